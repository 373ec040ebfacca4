"""Automated gradual pruning (Zhu & Gupta, 2017), and the mask helpers in ``.masks``."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import AGP


@hookimpl
def assay_register_methods() -> list[Any]:
    return [AGP]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
