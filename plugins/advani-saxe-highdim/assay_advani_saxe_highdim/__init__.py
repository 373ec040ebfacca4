"""Generalization dynamics of a linear student in high dimensions (Advani & Saxe, 2017)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import CurveGD, ScaledInit

    return [ScaledInit, CurveGD]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
