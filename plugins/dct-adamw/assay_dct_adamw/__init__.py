"""DCT-AdamW: GaLore's low-rank Adam with projections chosen from a fixed DCT basis instead of
an SVD (Modoranu et al., 2025)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import DCTAdamW, ProjectionBench

    return [DCTAdamW, ProjectionBench]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
