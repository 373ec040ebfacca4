"""Fira: full-rank training under a low-rank optimizer-state constraint (Chen et al., 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import Fira, GaLore


@hookimpl
def assay_register_methods() -> list[Any]:
    return [Fira, GaLore]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
