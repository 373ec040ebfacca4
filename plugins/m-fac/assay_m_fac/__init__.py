"""M-FAC: inverse empirical-Fisher products without forming the matrix, and one-shot OBS
pruning with them (Frantar, Kurtic and Alistarh, 2021)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import MFACPruning

    return [MFACPruning]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
