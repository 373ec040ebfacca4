"""Activating-while-Pruning: iterative magnitude pruning that also removes the negative weights
that moved least, to lower the pruned network's dead-neuron rate (Liu et al., 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import ActivatingWhilePruning

    return [ActivatingWhilePruning]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
