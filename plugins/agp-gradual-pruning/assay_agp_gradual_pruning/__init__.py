"""Automated gradual pruning (Zhu & Gupta, 2017), and the mask helpers in ``.masks``."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import AGP

    return [AGP]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
