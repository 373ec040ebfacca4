"""PQ Index (a sparsity measure of the weights) and Sparsity-informed Adaptive Pruning, which
sets each round's pruning ratio from it (Diao et al., 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import IterativePruning


@hookimpl
def assay_register_methods() -> list[Any]:
    return [IterativePruning]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
