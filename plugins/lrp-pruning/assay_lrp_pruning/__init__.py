"""Pruning by explaining: remove the CNN filters with the least LRP relevance
(Yeom et al., 2021)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import FilterPruning


@hookimpl
def assay_register_methods() -> list[Any]:
    return [FilterPruning]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
