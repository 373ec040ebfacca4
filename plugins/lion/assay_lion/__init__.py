"""Lion: the sign of an interpolated momentum (Chen et al., 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import Lion

    return [Lion]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
