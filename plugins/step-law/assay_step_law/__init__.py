"""Step Law: the optimal learning rate and batch size as power laws of model and data size
(Li et al., 2025)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import StepLaw


@hookimpl
def assay_register_methods() -> list[Any]:
    return [StepLaw]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
