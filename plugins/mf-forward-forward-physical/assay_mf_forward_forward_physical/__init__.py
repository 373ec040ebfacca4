"""Model-free forward-forward training of deep physical neural networks (Momeni et al.,
2023). :mod:`.ff` holds the forward-forward local loss, shared with other forward-learning
plugins."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_models() -> list[Any]:
    from .physical import PhysicalNetModel

    return [PhysicalNetModel]


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import MFForwardForward

    return [MFForwardForward]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
