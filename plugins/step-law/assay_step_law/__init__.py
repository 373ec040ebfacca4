"""Step Law: the optimal learning rate and batch size as power laws of model and data size
(Li et al., 2025)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import StepLaw

    return [StepLaw]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
