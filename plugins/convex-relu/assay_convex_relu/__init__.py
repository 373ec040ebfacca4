"""Sampled convex training of two-layer ReLU networks (Bai, Gautam and Sojoudi, 2022)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .data import Spirals
from .method import ConvexReLU
from .model import TwoLayerReLU


@hookimpl
def assay_register_datasets() -> list[Any]:
    return [Spirals]


@hookimpl
def assay_register_models() -> list[Any]:
    return [TwoLayerReLU]


@hookimpl
def assay_register_methods() -> list[Any]:
    return [ConvexReLU]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
