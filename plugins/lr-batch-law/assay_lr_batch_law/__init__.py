"""Learning rates as a function of batch size: linear for SGD, square root for Adam
(Granziol, Zohren and Roberts, 2022)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import LrBatchLaw

    return [LrBatchLaw]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
