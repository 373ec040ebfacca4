"""Diagonal linear RNNs whose transitions reach -1 can track parity (Grazzi et al., 2025)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_models() -> list[Any]:
    from .model import NegativeEigenLRNN

    return [NegativeEigenLRNN]


@hookimpl
def assay_register_datasets() -> list[Any]:
    from .dataset import Parity

    return [Parity]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
