"""Coherent gradients: m-coherence and median-of-means steps (Chatterjee & Zielinski, 2022)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import CoherentGradients


@hookimpl
def assay_register_methods() -> list[Any]:
    return [CoherentGradients]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
