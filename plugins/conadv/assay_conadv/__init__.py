"""ConAdv: adversarial large-batch training with perturbations from stale weights (Liu et al.,
2022), and the LAMB optimizer its experiments train with."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import ConAdv, Lamb

    return [ConAdv, Lamb]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
