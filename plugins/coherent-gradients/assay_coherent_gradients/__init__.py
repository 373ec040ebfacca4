"""Coherent gradients: m-coherence and median-of-means steps (Chatterjee & Zielinski, 2022)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import CoherentGradients

    return [CoherentGradients]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
