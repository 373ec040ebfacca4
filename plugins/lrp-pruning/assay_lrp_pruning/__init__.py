"""Pruning by explaining: remove the CNN filters with the least LRP relevance
(Yeom et al., 2021)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import FilterPruning

    return [FilterPruning]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
