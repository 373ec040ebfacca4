"""GB-NN: a one-hidden-layer network grown by gradient boosting, J units per stage (Emami and
Martinez-Munoz, 2023)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import BoostedNet

    return [BoostedNet]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
