"""Activating-while-Pruning: iterative magnitude pruning that also removes the negative weights
that moved least, to lower the pruned network's dead-neuron rate (Liu et al., 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import ActivatingWhilePruning


@hookimpl
def assay_register_methods() -> list[Any]:
    return [ActivatingWhilePruning]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
