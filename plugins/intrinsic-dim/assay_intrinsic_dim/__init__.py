"""Intrinsic dimension: train only a random low-dimensional subspace (Li et al., 2018)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import IntrinsicDim

    return [IntrinsicDim]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
