"""Random search over node masks, a baseline for sparse architecture search
(Farahani, 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import RandomNodeMask


@hookimpl
def assay_register_methods() -> list[Any]:
    return [RandomNodeMask]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
