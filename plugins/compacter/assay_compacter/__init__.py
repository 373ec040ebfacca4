"""Compacter: bottleneck adapters whose projections are parameterized hypercomplex
multiplication (PHM) layers with shared slow and rank-one fast weights (Karimi Mahabadi et al.,
2021), and the Houlsby bottleneck adapter they are compared with."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import BottleneckAdapter, Compacter

    return [Compacter, BottleneckAdapter]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
