"""Layer tickets: residual blocks removed at initialisation (Jordao et al., 2023), and filter
tickets to compare them with."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import FilterLottery, LayerLottery


@hookimpl
def assay_register_methods() -> list[Any]:
    return [LayerLottery, FilterLottery]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
