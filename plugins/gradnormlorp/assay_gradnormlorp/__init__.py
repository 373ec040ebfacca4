"""GradNormLoRP: weight normalisation of every hidden matrix, trained with GaLore's low-rank
gradient projection (Huang et al., 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import WeightNorm

    return [WeightNorm]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
