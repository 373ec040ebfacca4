"""Intrinsic dimension: train only a random low-dimensional subspace (Li et al., 2018)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import IntrinsicDim


@hookimpl
def assay_register_methods() -> list[Any]:
    return [IntrinsicDim]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
