"""Annealed Gaussian gradient noise for deep networks (Neelakantan et al., 2015)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import GaussianInit, GradNoise

    return [GradNoise, GaussianInit]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
