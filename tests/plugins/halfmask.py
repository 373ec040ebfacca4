"""Test fixture plugin: a pruning method with a fixed mask (the first half of every weight
matrix's entries held at zero after each step). Composition tests use it to check that a
trainer runs every other method's hooks."""
from __future__ import annotations

from typing import Any

import torch

from assay import Pruning, RunContext, hookimpl


def masked(p: torch.Tensor) -> torch.Tensor:
    flat = torch.zeros(p.numel(), dtype=torch.bool)
    flat[: p.numel() // 2] = True
    return flat.view_as(p)


class HalfMask(Pruning):
    name = "halfmask"

    def prune(self, ctx: RunContext, step: int) -> None:
        with torch.no_grad():
            for p in ctx.model.parameters():
                if p.dim() >= 2 and p.requires_grad:
                    p[masked(p)] = 0.0
        ctx.final_metrics["halfmask/steps"] = float(step)


@hookimpl
def assay_register_methods() -> list[Any]:
    return [HalfMask]
