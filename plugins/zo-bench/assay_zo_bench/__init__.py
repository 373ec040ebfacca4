"""ZO-Bench: forward-only (zeroth-order) training: ZO-SGD, ZO-SGD-Sign, ZO-Adam
(Zhang et al., 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import ZOSGD, ZOAdam, ZOSign

    return [ZOSGD, ZOSign, ZOAdam]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
