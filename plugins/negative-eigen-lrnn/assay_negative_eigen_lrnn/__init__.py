"""Diagonal linear RNNs whose transitions reach -1 can track parity (Grazzi et al., 2025)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .dataset import Parity
from .model import NegativeEigenLRNN


@hookimpl
def assay_register_models() -> list[Any]:
    return [NegativeEigenLRNN]


@hookimpl
def assay_register_datasets() -> list[Any]:
    return [Parity]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
