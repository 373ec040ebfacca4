"""Direct coverage optimization (DCO): train for pass@N instead of pass@1 (Chen et al., 2025).

A classifier's softmax is a sampling policy. With N independent draws for an input x, the true
label y is among them with probability

    pass@N(x) = 1 - (1 - p(y|x))^N.

DCO minimises the negative log of that coverage,

    L_N(x, y) = -log(1 - (1 - p)^N),            p = p(y|x),

which is cross-entropy at N = 1. Its gradient is cross-entropy's times

    F(N, p) = N p (1 - p)^(N-1) / (1 - (1 - p)^N),

a factor that falls to zero as p -> 1: once y is likely enough to be drawn among N samples the
example stops pushing its probability up. Cross-entropy keeps sharpening every example it fits,
memorised wrong labels included, and that overconfidence is what makes pass@N fall with longer
training (the paper's misalignment).

Numerics: since 1 - (1 - p)^N = p * sum_{k<N} (1 - p)^k, the loss is computed as

    L_N = -log p - log sum_{k<N} q^k,           q = 1 - p,

with -log p from the log-softmax and log q as logsumexp over the other classes minus
logsumexp over all, so no p (tiny or near one) loses precision and the sum lies in [1, N].
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Data, Loss, Paper, UserError

from assay_dco_passn_loss.config import CoverageLossConfig

if TYPE_CHECKING:
    from assay import RunContext
    from torch import nn

PAPER = Paper(title="Rethinking Fine-Tuning when Scaling Test-Time Compute: Limiting Confidence "
                    "Improves Mathematical Reasoning", arxiv="2502.07154", year=2025)


def log_probs(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log p(y|x), log(1 - p(y|x)))`` per row of ``logits`` (N, classes), both stable."""
    log_all = torch.logsumexp(logits, dim=-1)
    true = logits.gather(-1, y[:, None]).squeeze(-1)
    others = logits.scatter(-1, y[:, None], float("-inf"))
    return true - log_all, torch.logsumexp(others, dim=-1) - log_all


def coverage_loss(logits: torch.Tensor, y: torch.Tensor, n: int) -> torch.Tensor:
    """Mean of ``-log(1 - (1 - p(y|x))^n)`` over the rows: cross-entropy when ``n == 1``."""
    log_p, log_q = log_probs(logits, y)
    if n == 1:
        return -log_p.mean()
    powers = torch.arange(n, dtype=logits.dtype, device=logits.device)
    geometric = torch.logsumexp(log_q[:, None] * powers, dim=-1)       # log sum_{k<n} q^k
    return -(log_p + geometric).mean()


@torch.no_grad()
def pass_at_n(logits: torch.Tensor, y: torch.Tensor, n: int) -> float:
    """Mean over rows of ``1 - (1 - p(y|x))^n``: the chance that n draws from the softmax
    include the true label (computed exactly, not sampled)."""
    _, log_q = log_probs(logits.double(), y)
    return float((-torch.expm1(n * log_q)).mean())


class CoverageLoss(Loss):
    """DCO's coverage loss; also records the validation pass@N trajectory (peak, final)."""

    name = "dco-passn-loss"
    Config = CoverageLossConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"loss": {"name": "dco-passn-loss", "n": 4, "eval_n": 4}}}

    def compute(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                data: Data) -> torch.Tensor:
        if data.task == "regression":
            raise UserError("loss 'dco-passn-loss' needs class labels (classification or lm)")
        logits = model(x)
        return coverage_loss(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), self.config.n)

    def setup(self, ctx: RunContext) -> None:
        self.curve: list[tuple[int, float]] = []

    def after_step(self, ctx: RunContext, step: int) -> None:
        if step % ctx.eval_every == 0 or step == ctx.total_steps:
            self.curve.append((step, self.val_pass_at_n(ctx)))

    def val_pass_at_n(self, ctx: RunContext) -> float:
        x, y = ctx.data.val
        was_training = ctx.model.training
        ctx.model.eval()
        with torch.no_grad():
            logits = ctx.model(x.to(ctx.device))
        ctx.model.train(was_training)
        return pass_at_n(logits.reshape(-1, logits.shape[-1]), y.to(ctx.device).reshape(-1),
                         self.config.eval_n)

    def after_train(self, ctx: RunContext) -> None:
        if not self.curve:
            return
        peak_step, peak = max(self.curve, key=lambda sv: sv[1])
        ctx.final_metrics.update({"passn/final": self.curve[-1][1], "passn/peak": peak,
                                  "passn/peak_step": float(peak_step),
                                  "passn/n": float(self.config.eval_n)})
