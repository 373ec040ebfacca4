"""Lion solves a box-constrained problem (Chen, Liang, Liu, Liu 2023): Lion-K, the constraint
probe, and a linear model for the convex check."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import ConstraintProbe, LionK

    return [LionK, ConstraintProbe]


@hookimpl
def assay_register_models() -> list[Any]:
    from .method import LinearModel

    return [LinearModel]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
