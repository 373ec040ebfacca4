"""PQ Index (a sparsity measure of the weights) and Sparsity-informed Adaptive Pruning, which
sets each round's pruning ratio from it (Diao et al., 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import IterativePruning

    return [IterativePruning]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
