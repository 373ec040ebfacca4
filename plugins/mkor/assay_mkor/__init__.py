"""MKOR: KFAC-style preconditioning with inverse factors kept by rank-1 Sherman-Morrison
updates (Mozaffari et al., 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import MKOR, StepsToLoss


@hookimpl
def assay_register_methods() -> list[Any]:
    return [MKOR, StepsToLoss]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
