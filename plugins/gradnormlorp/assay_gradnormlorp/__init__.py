"""GradNormLoRP: weight normalisation of every hidden matrix, trained with GaLore's low-rank
gradient projection (Huang et al., 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import WeightNorm


@hookimpl
def assay_register_methods() -> list[Any]:
    return [WeightNorm]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
