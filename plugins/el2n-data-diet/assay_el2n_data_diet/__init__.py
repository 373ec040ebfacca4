"""Data diet: prune training data by early EL2N / GraNd scores (Paul et al., 2021)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .dataset import NoisyDigits
from .method import DataDiet


@hookimpl
def assay_register_methods() -> list[Any]:
    return [DataDiet]


@hookimpl
def assay_register_datasets() -> list[Any]:
    return [NoisyDigits]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
