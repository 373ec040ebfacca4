"""Benign overfitting and grokking on XOR cluster data (Xu et al., 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_datasets() -> list[Any]:
    from .dataset import XorClusters

    return [XorClusters]


@hookimpl
def assay_register_models() -> list[Any]:
    from .model import TwoLayerReLU

    return [TwoLayerReLU]


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import FullBatchGD

    return [FullBatchGD]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
