"""Learned proximal networks trained by proximal matching (Fang, Buchanan and Sulam, 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_datasets() -> list[Any]:
    from .data import LaplaceDenoising

    return [LaplaceDenoising]


@hookimpl
def assay_register_models() -> list[Any]:
    from .model import LPN

    return [LPN]


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import ProximalMatching

    return [ProximalMatching]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
