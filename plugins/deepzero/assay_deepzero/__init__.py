"""DeepZero: training from scratch with zeroth-order gradient estimates, coordinate-wise (CGE)
rather than along random vectors (RGE), with the perturbed forward passes run in parallel
(Chen et al., 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import CGE, ParallelRGE

    return [CGE, ParallelRGE]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
