"""SCoLe: plain SGD over long streams of tasks with recurring classes (Lesort et al., 2022)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import SCoLe

    return [SCoLe]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
