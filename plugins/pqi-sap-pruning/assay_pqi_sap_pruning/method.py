"""PQ Index (PQI) and Sparsity-informed Adaptive Pruning (SAP) (Diao et al., ICLR 2023).

PQI of the d weights w a pruned network still has (0 < p < q):

    I(w) = 1 - d^(1/q - 1/p) * ||w||_p / ||w||_q,

0 when every retained weight has the same magnitude, approaching 1 when a few carry all of it.
The paper proves that the number of weights needed to keep w's energy within a tolerance
eta is at least

    r = d * (1 + eta)^(-q/(q-p)) * (1 - I)^(q p / (q - p))      (= d (1-I) / (1+eta)^2 at
                                                                  p = 1/2, q = 1)

so SAP prunes, each round, the c = floor(d * min(gamma * (1 - ceil(r) / d), beta)) smallest
retained weights: much when the weights are compressible, little when they are not. gamma
scales the ratio and beta caps it.

Iterative pruning is a sequence of train-prune rounds, so it is a Trainer here: T + 1 rounds of
training (the run's steps split evenly), each starting from a fresh optimizer state and, with
``rewind: init`` (the lottery-ticket procedure both the paper's SAP and its IMP baseline use),
from the initial weights with the current mask; after each of the first T rounds the rule
prunes. ``rule: fixed`` is iterative magnitude pruning with a fixed share per round (IMP). The
end of each round is recorded: validation accuracy and loss, density, and the PQI of the
trained weights that the rule is about to prune (``round/<t>/...`` in the final metrics).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Paper, Trainer, UserError
from assay.lib.pruning import Masks, apply_masks, magnitude_masks, masks_from_scores, prunable

from assay_pqi_sap_pruning.config import IterativePruningConfig

if TYPE_CHECKING:
    from assay import RunContext
    from torch import nn

PAPER = Paper(title="Pruning Deep Neural Networks from a Sparsity Perspective",
              arxiv="2302.05601", year=2023)


def pq_index(w: torch.Tensor, p: float = 0.5, q: float = 1.0) -> float:
    """PQI of the entries of ``w`` (pass only the retained weights: d is their count)."""
    a = w.detach().abs().flatten().double()
    norm_p, norm_q = a.pow(p).sum() ** (1 / p), a.pow(q).sum() ** (1 / q)
    if not norm_q > 0:
        return math.nan
    return float(1 - a.numel() ** (1 / q - 1 / p) * norm_p / norm_q)


def retained_bound(d: int, pqi: float, p: float, q: float, eta: float) -> int:
    """The paper's lower bound on the weights to keep, rounded up."""
    return math.ceil(d * (1 + eta) ** (-q / (q - p)) * (1 - pqi) ** (q * p / (q - p)))


def sap_prune_count(d: int, pqi: float, p: float, q: float, eta: float, gamma: float,
                    beta: float) -> int:
    """How many of the d retained weights SAP prunes this round."""
    ratio = min(max(gamma * (1 - retained_bound(d, pqi, p, q, eta) / d), 0.0), beta)
    return math.floor(d * ratio)


class IterativePruning(Trainer):
    """Rounds of training and magnitude pruning; SAP (PQI-set ratio) or IMP (fixed ratio)."""

    name = "pqi-sap-pruning"
    Config = IterativePruningConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"trainer": {"name": "pqi-sap-pruning", "rounds": 2}}}

    def train(self, ctx: RunContext) -> None:
        c, total = self.config, ctx.total_steps
        if total < c.rounds + 1:
            raise UserError(f"methods.trainer: {c.rounds} pruning rounds train {c.rounds + 1} "
                            f"times; train.steps ({total}) must be at least that")
        params = prunable(ctx.model, c.include_readout)
        masks = {n: torch.ones_like(w, dtype=torch.bool) for n, w in params.items()}
        start = {k: v.detach().clone() for k, v in ctx.model.state_dict().items()}
        per_round, step = total // (c.rounds + 1), 0
        for t in range(c.rounds + 1):
            ctx.optimizer.state.clear()                       # a fresh optimizer each round
            n_steps = per_round if t < c.rounds else total - step
            step = self.train_round(ctx, params, masks, t, step, n_steps)
            self.record(ctx, params, masks, t)
            if t < c.rounds:
                masks = self.next_masks(params, masks)
                if c.rewind == "init":
                    ctx.model.load_state_dict(start)
                apply_masks(params, masks)
        ctx.final_metrics.update({"sparsity/actual": 1 - density_of(masks),
                                  "prune/rounds": float(c.rounds)})

    def train_round(self, ctx: RunContext, params: dict[str, nn.Parameter], masks: Masks,
                    t: int, step: int, n_steps: int) -> int:
        """``n_steps`` steps with the mask held; evaluates every ``eval_every`` steps of the
        run. Returns the run's step count after the round."""
        from assay import NonFiniteLoss

        density = density_of(masks)
        running, count = 0.0, 0
        for i in range(n_steps):
            self.set_round_lr(ctx, i, n_steps)
            x, y = ctx.batch()
            loss = ctx.loss(ctx.model, x, y)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise NonFiniteLoss(f"train loss became {value} at step {step + 1}")
            ctx.optimizer_step(loss, step + 1)
            apply_masks(params, masks)
            step, running, count = step + 1, running + value, count + 1
            if step % ctx.eval_every == 0 or step == ctx.total_steps:
                ctx.last_train_loss, running, count = running / count, 0.0, 0
                ctx.evaluate_and_report(step, {"prune/density": density,
                                               "prune/round": float(t)})
        return step

    @staticmethod
    def set_round_lr(ctx: RunContext, i: int, n_steps: int) -> None:
        """The run's schedule replayed within each round (a fresh schedule per round)."""
        schedule: Any = ctx.methods.get("schedule")
        factor = schedule.factor(i, n_steps) if schedule else 1.0
        for group in ctx.optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
            group["lr"] = group["initial_lr"] * factor

    def next_masks(self, params: dict[str, nn.Parameter], masks: Masks) -> Masks:
        """Prune the smallest retained weights: over all layers at once or per layer."""
        groups = [list(params)] if self.config.scope == "global" else [[n] for n in params]
        densities = {}
        for names in groups:
            kept = torch.cat([params[n].detach()[masks[n]] for n in names])
            keep = kept.numel() - self.n_prune(kept)
            size = sum(params[n].numel() for n in names)
            densities.update({n: keep / size for n in names})
        # pruned weights score zero, so the top entries are always a subset of the mask
        scores = {n: params[n].detach().abs() * masks[n] for n in params}
        if self.config.scope == "global":
            return magnitude_masks(scores, 1 - densities[next(iter(params))], "global")
        return masks_from_scores(scores, densities)

    def n_prune(self, kept: torch.Tensor) -> int:
        c = self.config
        if c.rule == "fixed":
            return round(c.fixed_ratio * kept.numel())
        return sap_prune_count(kept.numel(), pq_index(kept, c.p, c.q), c.p, c.q, c.eta,
                               c.gamma, c.beta)

    def record(self, ctx: RunContext, params: dict[str, nn.Parameter], masks: Masks,
               t: int) -> None:
        """Round t's end: accuracy and loss, density, and the global PQI of the trained,
        retained weights."""
        c = self.config
        kept = torch.cat([params[n].detach()[masks[n]] for n in params])
        val = ctx.evaluate()
        ctx.final_metrics.update({f"round/{t}/{k.replace('/', '_')}": v for k, v in val.items()})
        ctx.final_metrics.update({f"round/{t}/density": density_of(masks),
                                  f"round/{t}/pqi": pq_index(kept, c.p, c.q)})


def density_of(masks: Masks) -> float:
    """Share of the prunable weights still kept."""
    return sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())
