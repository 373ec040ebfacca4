"""PiSSA: LoRA started from the principal singular triplets of each weight (Meng et al.,
2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import PiSSA

    return [PiSSA]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
