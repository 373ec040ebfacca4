"""Layer tickets: residual blocks removed at initialisation (Jordao et al., 2023), and filter
tickets to compare them with."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import FilterLottery, LayerLottery

    return [LayerLottery, FilterLottery]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
