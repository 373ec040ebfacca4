"""Annealed Gaussian gradient noise for deep networks (Neelakantan et al., 2015)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import GaussianInit, GradNoise


@hookimpl
def assay_register_methods() -> list[Any]:
    return [GradNoise, GaussianInit]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
