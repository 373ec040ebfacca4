"""FLoRA: a low-rank Tucker core for the update of an N-dimensional weight (Si et al., 2025),
and LoRA on the kernel reshaped to a matrix, the baseline it is compared with."""
from __future__ import annotations

from typing import Any

from assay import hookimpl

from .claims import CLAIMS
from .method import FLoRA, KernelLoRA


@hookimpl
def assay_register_methods() -> list[Any]:
    return [FLoRA, KernelLoRA]


@hookimpl
def assay_register_claims() -> list[Any]:
    return CLAIMS
