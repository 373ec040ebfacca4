"""GradSign and two gradient-based zero-cost proxies, measured at initialisation before an
ordinary training run (Zhang and Jia, ICLR 2022).

On one batch of n examples at the initial weights, with g_i = the gradient of example i's
loss, for every scalar parameter k:

    GradSign = sum_k | sum_i sign(g_ik) |

It approximates the paper's Psi: when the examples' gradients agree in sign, their losses'
local minima sit close together and the network trains (and generalises) well. The baselines:
grad_norm = sum over parameter tensors of ||grad of the batch loss|| and SNIP = sum_k
|theta_k * grad_k| of the batch loss; the parameter count is recorded too (``zc/params``).

Trainer ``gradsign-probe`` measures these on ``probe_batch`` training examples at
initialisation (``zc/gradsign``, ``zc/grad_norm``, ``zc/snip``, ``zc/params``), then trains
the run's model the standard way (``ctx.run_steps``). ``score: random`` replaces GradSign by a
random number (the negative control: a proxy that knows nothing).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Paper, Trainer

from assay_gradsign.config import GradSignConfig

if TYPE_CHECKING:
    from collections.abc import Callable

    from assay import RunContext
    from torch import nn

PAPER = Paper(title="GradSign: Model Performance Inference with Theoretical Insights "
                    "(ICLR 2022)", year=2022)


def gradsign(per_example: dict[str, torch.Tensor]) -> float:
    """sum_k |sum_i sign(g_ik)| over every parameter of the per-example gradients."""
    return float(sum(g.sign().sum(0).abs().sum() for g in per_example.values()))


def batch_proxies(model: nn.Module, loss: torch.Tensor) -> dict[str, float]:
    """grad_norm (sum of per-tensor gradient norms) and SNIP (sum |theta * grad|)."""
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params)
    return {"zc/grad_norm": float(sum(g.norm() for g in grads)),
            "zc/snip": float(sum((p.detach() * g).abs().sum() for p, g in zip(params, grads))),
            "zc/params": float(sum(p.numel() for p in params))}


def proxies(model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
            x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Every proxy on the batch (x, y) at the model's current weights."""
    from assay.lib.hessian import per_example_grads

    out = {"zc/gradsign": gradsign(per_example_grads(model, loss_fn, x, y))}
    out.update(batch_proxies(model, loss_fn(model(x), y)))
    return out


class GradSignProbe(Trainer):
    """Zero-cost proxies at initialisation, then standard training."""

    name = "gradsign-probe"
    Config = GradSignConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"trainer": {"name": "gradsign-probe", "probe_batch": 16}}}

    def train(self, ctx: RunContext) -> None:
        x, y = ctx.batch(self.config.probe_batch)
        values = proxies(ctx.model, ctx.default_loss, x.to(ctx.device), y.to(ctx.device))
        if self.config.score == "random":
            gen = torch.Generator().manual_seed(ctx.run.seed * 7919 + int(values["zc/params"]))
            values["zc/gradsign"] = float(torch.rand((), generator=gen))
        ctx.final_metrics.update(values)
        ctx.final_metrics["zc/log_params"] = math.log10(values["zc/params"])
        ctx.run_steps(ctx.total_steps)
