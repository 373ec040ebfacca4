"""Neural tangent kernel: lazy training of wide networks (Jacot, Gabriel & Hongler, 2018)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .dataset import DigitsParity
from .method import KernelWatchGD, NTKParam


@hookimpl
def assay_register_datasets() -> list[Any]:
    return [DigitsParity]


@hookimpl
def assay_register_methods() -> list[Any]:
    return [NTKParam, KernelWatchGD]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
