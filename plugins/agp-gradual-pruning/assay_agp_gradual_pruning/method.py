"""Automated gradual pruning (AGP): magnitude pruning on a cubic sparsity schedule.

Zhu & Gupta (arXiv:1710.01878, Sec. 3) raise the sparsity of every pruned layer from s_i to
s_f over n pruning steps spaced dt apart, starting at step t0:

    s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt)) ** 3,   t in {t0, t0 + dt, ..., t0 + n*dt}

At each pruning step the smallest-magnitude weights of a layer are masked until the layer
reaches s_t; masked weights never come back (they are zero, so they stay the smallest), and
the masks are re-applied after every optimizer step so pruned weights stay exactly zero. The
schedule prunes fast at first, while many redundant weights exist, and slowly near s_f.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from assay import Paper, Pruning
from assay.lib.pruning import apply_masks, magnitude_masks, prunable, sparsity_metrics

from assay_agp_gradual_pruning.config import AGPConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="To prune, or not to prune: exploring the efficacy of pruning for model "
                    "compression", arxiv="1710.01878", year=2017)


def agp_sparsity(t: int, s_i: float, s_f: float, t0: int, n: int, dt: int) -> float:
    """Target sparsity at step ``t``: 0 before ``t0``, the cubic ramp, then ``s_f``."""
    if t < t0:
        return 0.0
    progress = min(1.0, (t - t0) / (n * dt))
    return s_f + (s_i - s_f) * (1.0 - progress) ** 3


class AGP(Pruning):
    """Gradual magnitude pruning with the cubic schedule of Zhu & Gupta (2017)."""

    name = "agp-gradual-pruning"
    Config = AGPConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"pruning": {"name": "agp-gradual-pruning", "final_sparsity": 0.5}}}

    def schedule(self, total_steps: int) -> tuple[int, int, int]:
        """(t0, n, dt) for a run of ``total_steps`` optimizer steps (steps count from 1)."""
        c = self.config
        t0 = max(1, round(c.start_fraction * total_steps))
        span = max(1, round(c.end_fraction * total_steps) - t0)
        dt = min(c.frequency, span)
        return t0, max(1, span // dt), dt

    def target(self, step: int, total_steps: int) -> float:
        t0, n, dt = self.schedule(total_steps)
        c = self.config
        return agp_sparsity(step, c.initial_sparsity, c.final_sparsity, t0, n, dt)

    def setup(self, ctx: RunContext) -> None:
        self.params = prunable(ctx.model, self.config.include_readout)
        self.masks: dict[str, Any] = {}

    def prune(self, ctx: RunContext, step: int) -> None:
        t0, n, dt = self.schedule(ctx.total_steps)
        if t0 <= step <= t0 + n * dt and (step - t0) % dt == 0:
            s_t = self.target(step, ctx.total_steps)
            if s_t > 0:
                self.masks = magnitude_masks(self.params, s_t, self.config.scope)
        if self.masks:
            apply_masks(self.params, self.masks)
        if step % ctx.eval_every == 0 or step == ctx.total_steps:
            ctx.final_metrics.update(
                sparsity_metrics(ctx.model, self.params, self.config.final_sparsity))
