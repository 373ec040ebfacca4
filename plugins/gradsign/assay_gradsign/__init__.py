"""GradSign: a zero-cost proxy of trained accuracy from gradient signs (Zhang and Jia, 2022)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import GradSignProbe

    return [GradSignProbe]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
