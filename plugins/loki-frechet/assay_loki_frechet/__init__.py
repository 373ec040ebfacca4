"""Loki: the Frechet mean of the observed classes instead of argmax (Roberts et al., 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import Loki

    return [Loki]


@hookimpl
def assay_register_datasets() -> list[Any]:
    from .data import OrdinalBins

    return [OrdinalBins]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
