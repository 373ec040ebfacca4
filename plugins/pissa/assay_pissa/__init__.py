"""PiSSA: LoRA started from the principal singular triplets of each weight (Meng et al.,
2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import PiSSA


@hookimpl
def assay_register_methods() -> list[Any]:
    return [PiSSA]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
