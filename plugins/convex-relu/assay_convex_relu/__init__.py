"""Sampled convex training of two-layer ReLU networks (Bai, Gautam and Sojoudi, 2022)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_datasets() -> list[Any]:
    from .data import Spirals

    return [Spirals]


@hookimpl
def assay_register_models() -> list[Any]:
    from .model import TwoLayerReLU

    return [TwoLayerReLU]


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import ConvexReLU

    return [ConvexReLU]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
