"""Learned proximal networks trained by proximal matching (Fang, Buchanan and Sulam, 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .data import LaplaceDenoising
from .method import ProximalMatching
from .model import LPN


@hookimpl
def assay_register_datasets() -> list[Any]:
    return [LaplaceDenoising]


@hookimpl
def assay_register_models() -> list[Any]:
    return [LPN]


@hookimpl
def assay_register_methods() -> list[Any]:
    return [ProximalMatching]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
