"""ZO-Bench: forward-only (zeroth-order) training: ZO-SGD, ZO-SGD-Sign, ZO-Adam
(Zhang et al., 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import ZOSGD, ZOAdam, ZOSign


@hookimpl
def assay_register_methods() -> list[Any]:
    return [ZOSGD, ZOSign, ZOAdam]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
