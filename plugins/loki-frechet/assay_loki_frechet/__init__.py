"""Loki: the Frechet mean of the observed classes instead of argmax (Roberts et al., 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .data import OrdinalBins
from .method import Loki


@hookimpl
def assay_register_methods() -> list[Any]:
    return [Loki]


@hookimpl
def assay_register_datasets() -> list[Any]:
    return [OrdinalBins]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
