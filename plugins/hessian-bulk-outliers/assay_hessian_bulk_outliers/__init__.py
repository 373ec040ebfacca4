"""Bulk and outliers in the Hessian spectrum of trained networks (Sagun et al., 2017)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .dataset import Blobs
from .method import HessianSpectrum


@hookimpl
def assay_register_datasets() -> list[Any]:
    return [Blobs]


@hookimpl
def assay_register_methods() -> list[Any]:
    return [HessianSpectrum]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
