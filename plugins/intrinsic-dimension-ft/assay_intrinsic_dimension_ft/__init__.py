"""Intrinsic dimensionality of fine-tuning: train a pretrained model only in a random
low-dimensional subspace around its weights (Aghajanyan, Zettlemoyer & Gupta, 2020)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import SubspaceAdapter


@hookimpl
def assay_register_methods() -> list[Any]:
    return [SubspaceAdapter]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
