"""diffGrad: Adam whose step shrinks where the gradient barely changes (Dubey et al., 2019)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import DiffGrad


@hookimpl
def assay_register_methods() -> list[Any]:
    return [DiffGrad]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
