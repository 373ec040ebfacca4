"""Model-free forward-forward training of deep physical neural networks (Momeni et al.,
2023). :mod:`.ff` holds the forward-forward local loss, shared with other forward-learning
plugins."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import MFForwardForward
from .physical import PhysicalNetModel


@hookimpl
def assay_register_models() -> list[Any]:
    return [PhysicalNetModel]


@hookimpl
def assay_register_methods() -> list[Any]:
    return [MFForwardForward]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
