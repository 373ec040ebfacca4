"""Fira: full-rank training under a low-rank optimizer-state constraint (Chen et al., 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import Fira, GaLore

    return [Fira, GaLore]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
