"""GB-NN: train a one-hidden-layer network as a gradient-boosted additive model (Emami and
Martinez-Munoz, IEEE Access 2023).

The network's output is an additive expansion, F(x) = c + sum_u v_u a(w_u . x + d_u), so its
W hidden units can be trained T stages at a time, J = W / T units per stage:

1. F_0 = c, the constant minimising the mean training loss (log class frequencies for
   cross-entropy, the target mean for squared error).
2. Stage t: the pseudo-residuals of F_{t-1} (onehot(y) - softmax(F_{t-1}(x)) for cross-entropy,
   y - F_{t-1}(x) for squared error) are fitted by least squares with the stage's J units, their
   output weights and an output bias of their own, h_t(x); only those train.
3. A step rho_t = shrinkage * (one Newton step of the loss along h_t) scales the stage (the
   official code's rule; 1 for squared error), and F_t = F_{t-1} + rho_t h_t: the stage's
   output weights and bias are multiplied by rho_t in place.

After T stages the network *is* the merged model (T * J hidden units). Units are ordered by
stage, so switching off the last stages is dropping the last units, which the paper reports
costs little. ``mode: joint`` trains the same network the usual way (every unit at once, the
run's optimizer and schedule): the baseline.

Trainer ``gb-nn`` needs the builtin ``mlp`` with ``depth: 1``. Each stage takes
``train.steps / stages`` steps through ``ctx.optimizer_step`` with a fresh optimizer state;
the parameters of other stages are restored after each step (a decoupled weight decay would
otherwise shrink them). Boosting evaluates at the end of every stage (after its rho), not
every ``eval_every`` steps. After training both modes record, on the validation split, the
accuracy change when the last ``drop_fraction`` of the units is switched off
(``switch_off/last_pts``) and the mean change over ``drop_draws`` random unit subsets of the
same size (``switch_off/random_pts``); a drop is positive (regression: the rise of the
validation loss).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Paper, Trainer, UserError

from assay_gb_nn.config import BoostedNetConfig

if TYPE_CHECKING:
    from assay import RunContext
    from torch import nn

PAPER = Paper(title="Sequential Training of Neural Networks with Gradient Boosting",
              arxiv="1909.12098", year=2023)


class BoostedNet(Trainer):
    """Gradient boosting of a one-hidden-layer network, J units per stage."""

    name = "gb-nn"
    Config = BoostedNetConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "model": {"name": "mlp", "width": 16, "depth": 1},
        "methods": {"trainer": {"name": "gb-nn", "stages": 2}},
        "train": {"steps": 40}}

    def train(self, ctx: RunContext) -> None:
        hidden, readout = one_hidden_layer(ctx.model, self.config.stages)
        if self.config.mode == "joint":
            ctx.run_steps(ctx.total_steps)
        else:
            self.boost(ctx, hidden, readout)
        self.switch_off(ctx, readout)

    # --- boosting ----------------------------------------------------------------------------

    def boost(self, ctx: RunContext, hidden: nn.Linear, readout: nn.Linear) -> None:
        c, total = self.config, ctx.total_steps
        if total < c.stages:
            raise UserError(f"methods.trainer: {c.stages} stages need train.steps >= "
                            f"{c.stages}, got {total}")
        start = readout.weight.detach().clone()
        with torch.no_grad():                      # F_0: only the constant
            readout.weight.zero_()
            readout.bias.copy_(constant_fit(ctx))
        per, step = total // c.stages, 0
        for t in range(c.stages):
            units = stage_units(hidden.out_features, c.stages, t)
            with torch.no_grad():
                readout.weight[:, units] = start[:, units]     # the stage's fresh output weights
            n = per if t < c.stages - 1 else total - step
            base = readout.bias.detach().clone()
            step = self.fit_stage(ctx, hidden, readout, units, base, step, n)
            rho = self.scale_stage(ctx, readout, units, base)
            ctx.last_train_loss = ctx.evaluate("train")["train/loss"]
            ctx.evaluate_and_report(step, {"gbnn/stage": float(t), "gbnn/rho": rho})
        ctx.final_metrics["gbnn/stages"] = float(c.stages)

    def fit_stage(self, ctx: RunContext, hidden: nn.Linear, readout: nn.Linear, units: slice,
                  base: torch.Tensor, step: int, n_steps: int) -> int:
        """Least squares of the stage's units (and its own output bias, readout.bias - base)
        on the pseudo-residuals of the model so far; returns the run's step count."""
        from assay import NonFiniteLoss

        frozen = Frozen(hidden, readout, units)
        ctx.optimizer.state.clear()                # a fresh optimizer for every stage
        for _ in range(n_steps):
            ctx.set_lr(step)
            x, y = ctx.batch()
            prev, part = split_output(ctx.model, readout, units, base, x)
            loss = (part - pseudo_residuals(ctx, prev, y)).pow(2).sum(-1).mean()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise NonFiniteLoss(f"stage loss became {value} at step {step + 1}")
            ctx.optimizer_step(loss, step + 1)
            frozen.restore()
            step += 1
        return step

    def scale_stage(self, ctx: RunContext, readout: nn.Linear, units: slice,
                    base: torch.Tensor) -> float:
        """rho_t from one Newton step of the training loss along the stage's output, over the
        whole training split; the stage's output weights and bias are scaled by it."""
        x, y = ctx.data.train
        with torch.no_grad():
            prev, part = split_output(ctx.model, readout, units, base, x.to(ctx.device))
            rho = self.config.shrinkage * newton_step(ctx, prev, part, y.to(ctx.device))
            readout.weight[:, units] *= rho
            readout.bias.copy_(base + rho * (readout.bias - base))
        return rho

    # --- switching units off -----------------------------------------------------------------

    def switch_off(self, ctx: RunContext, readout: nn.Linear) -> None:
        c = self.config
        width = readout.weight.shape[1]
        k = max(1, round(c.drop_fraction * width))
        full = score(ctx)
        gen = torch.Generator().manual_seed(ctx.run.seed + 1)
        random = [full - score_without(ctx, readout, torch.randperm(width, generator=gen)[:k])
                  for _ in range(c.drop_draws)]
        ctx.final_metrics.update({
            "switch_off/last_pts": full - score_without(ctx, readout, torch.arange(width - k,
                                                                                   width)),
            "switch_off/random_pts": sum(random) / len(random),
            "switch_off/units": float(k), "gbnn/n_val": float(len(ctx.data.val[0]))})


class Frozen:
    """The hidden rows and output columns outside a stage, put back after every step."""

    def __init__(self, hidden: nn.Linear, readout: nn.Linear, units: slice) -> None:
        self.parts = [(hidden.weight, 0), (hidden.bias, 0), (readout.weight, 1)]
        self.saved = [p.detach().clone() for p, _ in self.parts]
        self.units = units

    @torch.no_grad()
    def restore(self) -> None:
        for (p, dim), saved in zip(self.parts, self.saved):
            keep = torch.ones(p.shape[dim], dtype=torch.bool)
            keep[self.units] = False
            if dim == 0:
                p[keep] = saved[keep]
            else:
                p[:, keep] = saved[:, keep]


def one_hidden_layer(model: nn.Module, stages: int) -> tuple[nn.Linear, nn.Linear]:
    hidden = getattr(model, "hidden", None)
    readout = getattr(model, "readout", None)
    if hidden is None or len(hidden) != 1 or readout is None or readout.bias is None:
        raise UserError("methods.trainer: gb-nn trains a one-hidden-layer network: use model "
                        "mlp with depth: 1 and bias: true")
    if hidden[0].out_features % stages:
        raise UserError(f"methods.trainer: {stages} stages must divide the width "
                        f"({hidden[0].out_features})")
    return hidden[0], readout


def stage_units(width: int, stages: int, t: int) -> slice:
    j = width // stages
    return slice(t * j, (t + 1) * j)


def split_output(model: nn.Module, readout: nn.Linear, units: slice, base: torch.Tensor,
                 x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(F_{t-1}(x) without gradient, the stage's own output h_t(x)): the units before the
    stage plus the base bias, and the stage's units plus its bias delta."""
    h = model.features(x)                                       # (B, width)
    with torch.no_grad():
        before = slice(0, units.start)
        prev = h[:, before].detach() @ readout.weight[:, before].T + base
    part = h[:, units] @ readout.weight[:, units].T + (readout.bias - base)
    return prev, part


def pseudo_residuals(ctx: RunContext, prev: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Minus the loss gradient in the output at F_{t-1}."""
    if ctx.data.task == "regression":
        return y - prev
    return torch.nn.functional.one_hot(y, prev.shape[-1]).to(prev.dtype) - prev.softmax(-1)


def newton_step(ctx: RunContext, prev: torch.Tensor, part: torch.Tensor,
                y: torch.Tensor) -> float:
    """One Newton step of the loss along ``part`` from ``prev``, with the diagonal of the
    softmax Hessian (sum f r / sum f^2 p (1 - p)); 1 for squared error."""
    if ctx.data.task == "regression":
        return 1.0
    p = prev.softmax(-1)
    r = pseudo_residuals(ctx, prev, y)
    curvature = float((part.pow(2) * p * (1 - p)).sum())
    return float((part * r).sum()) / curvature if curvature > 0 else 0.0


def constant_fit(ctx: RunContext) -> torch.Tensor:
    """The constant output minimising the mean training loss."""
    y = ctx.data.train[1]
    if ctx.data.task == "regression":
        return y.float().mean(0)
    counts = torch.bincount(y, minlength=ctx.data.n_outputs).float()
    return counts.clamp_min(0.5).div(len(y)).log()


def score(ctx: RunContext) -> float:
    """Validation accuracy in points (regression: minus the validation loss)."""
    out = ctx.evaluate()
    return 100 * out["val/acc"] if "val/acc" in out else -out["val/loss"]


@torch.no_grad()
def score_without(ctx: RunContext, readout: nn.Linear, units: torch.Tensor) -> float:
    """The score with ``units`` switched off (their output weights zeroed, then restored)."""
    saved = readout.weight[:, units].clone()
    readout.weight[:, units] = 0
    value = score(ctx)
    readout.weight[:, units] = saved
    return value
