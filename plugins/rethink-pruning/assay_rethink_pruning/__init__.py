"""Rethinking the value of network pruning (Liu et al., 2019): structured pruning whose
pruned architecture can be fine-tuned or trained from scratch."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import RethinkPruning

    return [RethinkPruning]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
