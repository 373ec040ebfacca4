"""LoRA-GA: LoRA started from the singular vectors of the estimated full gradient (Wang et
al., 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import LoraGA

    return [LoraGA]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
