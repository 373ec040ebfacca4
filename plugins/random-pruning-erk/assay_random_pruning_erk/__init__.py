"""Random pruning at initialisation with ERK layer-wise densities (Liu et al., 2022)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import RandomPruning


@hookimpl
def assay_register_methods() -> list[Any]:
    return [RandomPruning]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
