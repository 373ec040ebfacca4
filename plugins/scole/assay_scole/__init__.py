"""SCoLe: plain SGD over long streams of tasks with recurring classes (Lesort et al., 2022)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import SCoLe


@hookimpl
def assay_register_methods() -> list[Any]:
    return [SCoLe]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
