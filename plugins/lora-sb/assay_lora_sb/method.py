"""LoRA-SB (Ponkshe et al., 2024) and the LoRA-XS layout it builds on (Balazy et al., 2024).

Both adapt a frozen Linear weight W (out, in) as

    W_eff = W + s * B @ R @ A,       B (out, r) and A (r, in) fixed,  R (r, r) trained,

so a layer trains r^2 numbers instead of LoRA's r * (in + out). They differ only in where B, A
and R start:

- LoRA-XS: the top-r singular triplets of the pretrained weight, W = U S V^T:
  B = U_r, A = S_r V_r^T, and R drawn from N(0, sigma^2) with a tiny sigma (1e-5).
- LoRA-SB: the top-r singular triplets of the first full fine-tuning update. The gradient G of
  the loss with respect to W is estimated on a few training examples; the first step of full
  fine-tuning is dW = -eta * sign(G) for Adam (whose first step is the sign of the gradient) or
  -eta * G for SGD, with eta the first step's learning rate. With dW = U S V^T:
  B = U_r, A = V_r^T, R = S_r / s, so the adapter starts exactly at the best rank-r
  approximation of that first step (the model starts one approximate step into fine-tuning).

Why the LoRA-SB start matters (the paper's argument): a gradient step on R moves W_eff by
-lr * s^2 * B B^T G A^T A. With B and A orthonormal that is the projection of the full
gradient onto the span fixed at the start, so training R simulates full fine-tuning inside the
subspace where the first update lived, with no extra scale to tune (s = 1: alpha = r). LoRA-XS
starts in the weight's own top subspace, which need not contain the new task's update.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from assay import Data, Paper, UserError
from assay.lib.adapters import LoRA, LoRALinear, adapters, inject, linear_layers
from assay.lib.losses import default_loss
from torch import nn

from assay_lora_sb.config import CoreConfig, LoRASBConfig, LoRAXSConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="Initialization using Update Approximation is a Silver Bullet for Extremely "
                    "Efficient Low-Rank Fine-Tuning", arxiv="2411.19557", year=2024)
XS_PAPER = Paper(title="LoRA-XS: Low-Rank Adaptation with Extremely Small Number of Parameters",
                 arxiv="2405.17604", year=2024)


class CoreLinear(LoRALinear):
    """A frozen Linear plus ``scale * B @ R @ A``: ``lora_A`` and ``lora_B`` fixed, only the
    r x r core ``lora_R`` trained."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__(base, rank, alpha, dropout)
        w = base.weight
        self.lora_R = nn.Parameter(torch.zeros(self.rank, self.rank, dtype=w.dtype,
                                               device=w.device))
        self.lora_A.requires_grad_(False)
        self.lora_B.requires_grad_(False)

    @torch.no_grad()
    def set_core(self, A: torch.Tensor, B: torch.Tensor, R: torch.Tensor) -> None:
        """Fix the factors ``A`` (r, in), ``B`` (out, r) and start the core at ``R`` (r, r);
        the frozen weight is left as it is (the adapter's start adds to it)."""
        self.set_factors(A, B, keep_output=False)
        self.lora_R.copy_(R)

    def delta_weight(self) -> torch.Tensor:
        return self.scale * self.lora_B @ self.lora_R @ self.lora_A

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.linear(F.linear(self.dropout(x), self.lora_A), self.lora_R)      # (..., r)
        return self.base(x) + self.scale * F.linear(h, self.lora_B)


def svd_top(matrix: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(U_r, S_r, Vh_r)``: the top-``rank`` singular triplets of ``matrix`` (exact SVD)."""
    U, S, Vh = torch.linalg.svd(matrix.detach().to(torch.float64), full_matrices=False)
    return U[:, :rank], S[:rank], Vh[:rank]


def weight_factors(weight: torch.Tensor, rank: int, sigma: float,
                   gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """LoRA-XS's start ``(A, B, R)``: B = U_r, A = S_r V_r^T of the weight, R ~ N(0, sigma^2)."""
    U, S, Vh = svd_top(weight, rank)
    R = sigma * torch.randn(rank, rank, generator=gen, dtype=torch.float64)
    return tuple(t.to(weight.dtype) for t in (S[:, None] * Vh, U, R))


def update_factors(update: torch.Tensor, rank: int,
                   scale: float) -> tuple[torch.Tensor, ...]:
    """LoRA-SB's start ``(A, B, R)`` from a full update dW (out, in): B = U_r, A = V_r^T,
    R = S_r / scale, so that ``scale * B @ R @ A`` is dW's best rank-r approximation."""
    U, S, Vh = svd_top(update, rank)
    return tuple(t.to(update.dtype) for t in (Vh, U, torch.diag(S) / scale))


def first_update(grad: torch.Tensor, lr: float, rule: str) -> torch.Tensor:
    """The first full fine-tuning step for gradient ``grad``: -lr * sign(G) for Adam (its
    first step, bias-corrected, is the sign of the gradient), -lr * G for SGD."""
    return -lr * (torch.sign(grad) if rule == "adam" else grad)


def weight_gradients(model: nn.Module, weights: list[nn.Parameter], x: torch.Tensor,
                     y: torch.Tensor, loss_fn: Callable[[torch.Tensor, torch.Tensor],
                                                        torch.Tensor]) -> list[torch.Tensor]:
    """d loss(model(x), y) / d w for each of ``weights`` (the mean over the examples)."""
    flags = [w.requires_grad for w in weights]
    for w in weights:
        w.requires_grad_(True)
    try:
        return list(torch.autograd.grad(loss_fn(model(x), y), weights))
    finally:
        for w, flag in zip(weights, flags):
            w.requires_grad_(flag)


class LoRAXS(LoRA):
    """LoRA-XS: B, A from the pretrained weight's SVD (fixed), a trainable r x r core."""

    name = "lora-sb-xs"
    Config = LoRAXSConfig
    paper = XS_PAPER

    def apply(self, model: nn.Module, data: Data) -> nn.Module:
        c = self.config
        gen = torch.Generator().manual_seed(torch.initial_seed())   # the run's seed

        def make(name: str, linear: nn.Linear) -> LoRALinear:
            layer = CoreLinear(linear, c.rank, c.alpha, c.dropout)
            layer.set_core(*weight_factors(linear.weight, layer.rank, c.sigma, gen))
            return layer

        inject(model, c.target, make)
        return model


class LoRASB(LoRA):
    """LoRA-SB: fixed factors and a trainable r x r core that start at the truncated SVD of
    the first full fine-tuning update."""

    name = "lora-sb"
    Config = LoRASBConfig
    paper = PAPER

    def apply(self, model: nn.Module, data: Data) -> nn.Module:
        c = self.config
        targets = linear_layers(model, c.target)
        x, y = self.sample(data)
        grads = weight_gradients(model, [lin.weight for _, lin in targets], x, y,
                                 lambda out, t: default_loss(out, t, data))
        self.unit: dict[str, torch.Tensor] = {}     # each core for a first step of rate 1

        def make(name: str, linear: nn.Linear) -> LoRALinear:
            layer = CoreLinear(linear, c.rank, c.alpha, c.dropout)
            grad = grads[[n for n, _ in targets].index(name)]
            A, B, R = update_factors(first_update(grad, 1.0, c.first_step), layer.rank,
                                     layer.scale)
            layer.set_core(A, B, R * (c.init_lr or 0.0))
            self.unit[name] = R
            return layer

        inject(model, c.target, make)
        return model

    def sample(self, data: Data) -> tuple[torch.Tensor, torch.Tensor]:
        """``grad_samples`` training examples, drawn with the run's seed."""
        x, y = data.train
        gen = torch.Generator().manual_seed(torch.initial_seed())
        idx = torch.randperm(x.shape[0], generator=gen)[: self.config.grad_samples]
        return x[idx], y[idx]

    def setup(self, ctx: RunContext) -> None:
        if self.config.init_lr is not None:
            return
        lr = first_lr(ctx)
        with torch.no_grad():
            for name, layer in adapters(ctx.model).items():
                layer.lora_R.copy_(lr * self.unit[name].to(layer.lora_R.device))


def first_lr(ctx: RunContext) -> float:
    """The learning rate of the run's first optimizer step (its lr times the schedule's
    factor at step 0)."""
    opt: Any = ctx.methods.get("optimizer")
    lr = getattr(getattr(opt, "config", None), "lr", None)
    if lr is None:
        raise UserError("adapter 'lora-sb' needs init_lr, or an optimizer with an lr option")
    schedule: Any = ctx.methods.get("schedule")
    return float(lr) * (schedule.factor(0, ctx.total_steps) if schedule else 1.0)
