"""MKOR: KFAC-style preconditioning with inverse factors kept by rank-1 Sherman-Morrison
updates (Mozaffari et al., 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import MKOR, StepsToLoss

    return [MKOR, StepsToLoss]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
