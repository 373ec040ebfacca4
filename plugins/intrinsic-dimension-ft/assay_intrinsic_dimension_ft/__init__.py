"""Intrinsic dimensionality of fine-tuning: train a pretrained model only in a random
low-dimensional subspace around its weights (Aghajanyan, Zettlemoyer & Gupta, 2020)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import SubspaceAdapter

    return [SubspaceAdapter]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
