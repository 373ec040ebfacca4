"""Random search over node masks, a baseline for sparse architecture search
(Farahani, 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import RandomNodeMask

    return [RandomNodeMask]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
