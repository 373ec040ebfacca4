"""Random pruning at initialisation with ERK layer-wise densities (Liu et al., 2022)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import RandomPruning

    return [RandomPruning]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
