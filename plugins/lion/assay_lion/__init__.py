"""Lion: the sign of an interpolated momentum (Chen et al., 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import Lion


@hookimpl
def assay_register_methods() -> list[Any]:
    return [Lion]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
