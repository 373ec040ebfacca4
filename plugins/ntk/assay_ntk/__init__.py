"""Neural tangent kernel: lazy training of wide networks (Jacot, Gabriel & Hongler, 2018)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_datasets() -> list[Any]:
    from .dataset import DigitsParity

    return [DigitsParity]


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import KernelWatchGD, NTKParam

    return [NTKParam, KernelWatchGD]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
