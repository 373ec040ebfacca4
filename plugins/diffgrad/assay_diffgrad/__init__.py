"""diffGrad: Adam whose step shrinks where the gradient barely changes (Dubey et al., 2019)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import DiffGrad

    return [DiffGrad]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
