"""Data diet: prune training data by early EL2N / GraNd scores (Paul et al., 2021)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import DataDiet

    return [DataDiet]


@hookimpl
def assay_register_datasets() -> list[Any]:
    from .dataset import NoisyDigits

    return [NoisyDigits]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
