"""LoRA-SB: LoRA-XS's trainable r x r core, started from the SVD of the first full
fine-tuning update (Ponkshe et al., 2024)."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import LoRASB, LoRAXS

    return [LoRASB, LoRAXS]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
