"""Bulk and outliers in the Hessian spectrum of trained networks (Sagun et al., 2017)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_datasets() -> list[Any]:
    from .dataset import Blobs

    return [Blobs]


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import HessianSpectrum

    return [HessianSpectrum]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
