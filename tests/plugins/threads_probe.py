"""Test fixture plugin: a cross-entropy loss that records torch's thread count while the run
trains, so tests can see the count a run really used (inline or on a Dask worker)."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from assay import Loss, hookimpl


class ThreadsProbe(Loss):
    name = "threads-probe"

    def compute(self, model: Any, x: Any, y: Any, data: Any) -> Any:
        return F.cross_entropy(model(x), y)

    def before_step(self, ctx: Any, step: int) -> None:
        seen = ctx.final_metrics.setdefault("probe/threads_max", 0.0)
        ctx.final_metrics["probe/threads_max"] = max(seen, float(torch.get_num_threads()))
        ctx.final_metrics["probe/threads_min"] = min(
            ctx.final_metrics.get("probe/threads_min", 1e9), float(torch.get_num_threads()))


@hookimpl
def assay_register_methods() -> list[Any]:
    return [ThreadsProbe]
