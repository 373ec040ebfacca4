"""FLoRA: a low-rank Tucker core for the update of an N-dimensional weight (Si et al., 2025),
and LoRA on the kernel reshaped to a matrix, the baseline it is compared with."""
from __future__ import annotations

from typing import Any

from assay import hookimpl


@hookimpl
def assay_register_methods() -> list[Any]:
    from .method import FLoRA, KernelLoRA

    return [FLoRA, KernelLoRA]


@hookimpl
def assay_register_claims() -> list[Any]:
    from .claims import CLAIMS

    return CLAIMS
