"""Benign overfitting and grokking on XOR cluster data (Xu et al., 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .dataset import XorClusters
from .method import FullBatchGD
from .model import TwoLayerReLU


@hookimpl
def assay_register_datasets() -> list[Any]:
    return [XorClusters]


@hookimpl
def assay_register_models() -> list[Any]:
    return [TwoLayerReLU]


@hookimpl
def assay_register_methods() -> list[Any]:
    return [FullBatchGD]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
