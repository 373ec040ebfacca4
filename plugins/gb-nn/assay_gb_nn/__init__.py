"""GB-NN: a one-hidden-layer network grown by gradient boosting, J units per stage (Emami and
Martinez-Munoz, 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import BoostedNet


@hookimpl
def assay_register_methods() -> list[Any]:
    return [BoostedNet]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
