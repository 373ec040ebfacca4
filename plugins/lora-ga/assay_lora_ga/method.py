"""LoRA-GA: LoRA started so that its first step follows the full fine-tuning gradient (Wang et
al., 2024).

For a Linear weight W (out, in), a LoRA update s * B @ A (s = alpha / r) trained by SGD from
(A, B) changes the effective weight, to first order in the learning rate lr, by

    dW = -lr * s^2 * (B B^T G + G A^T A),        G = dLoss/dW at the start.

LoRA-GA estimates G on a few training batches before training, takes G = U diag(S) V^T and
sets (the paper's "ArB2r" choice)

    A = c * V[:, :r]^T,    B = c * U[:, r:2r],    c = out^(1/4) / sqrt(gamma),

so that B B^T G + G A^T A = c^2 * (the best rank-2r approximation of G): the first adapted step
points along the full gradient as closely as a rank-2r update can. The frozen weight becomes
W - s * B @ A, so the model's output is unchanged at step 0. ``c`` is the paper's "stable"
scale: it keeps the adapter output's size independent of the width.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from assay import Data, Paper
from assay.lib.adapters import LoRA, LoRALinear, inject, linear_layers
from assay.lib.losses import default_loss
from torch import nn

from assay_lora_ga.config import LoraGAConfig

PAPER = Paper(title="LoRA-GA: Low-Rank Adaptation with Gradient Approximation",
              arxiv="2407.05000", year=2024)

Batch = tuple[torch.Tensor, torch.Tensor]


def estimate_gradients(model: nn.Module, weights: Sequence[nn.Parameter],
                       batches: Sequence[Batch],
                       loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                       ) -> list[torch.Tensor]:
    """The loss gradient with respect to each of ``weights``, averaged over ``batches``."""
    flags = [w.requires_grad for w in weights]
    for w in weights:
        w.requires_grad_(True)
    total = [torch.zeros_like(w) for w in weights]
    try:
        for x, y in batches:
            grads = torch.autograd.grad(loss_fn(model(x), y), list(weights), allow_unused=True)
            for t, g in zip(total, grads):
                if g is not None:
                    t += g
    finally:
        for w, flag in zip(weights, flags):
            w.requires_grad_(flag)
    return [t / max(1, len(batches)) for t in total]


def gradient_factors(grad: torch.Tensor, rank: int, gamma: float
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, B)`` from the SVD of ``grad`` (out, in): A's rows are the top-r right singular
    vectors, B's columns the next r left ones (zero where ``grad`` has fewer than 2r), both
    times out^(1/4) / sqrt(gamma)."""
    out_dim, in_dim = grad.shape
    dtype = torch.promote_types(grad.dtype, torch.float32)
    U, _, Vh = torch.linalg.svd(grad.detach().to(dtype), full_matrices=False)
    n = Vh.shape[0]                                   # min(out, in)
    if rank > n:
        raise ValueError(f"rank {rank} exceeds min(out, in) = {n}")
    A = Vh[:rank].clone()
    B = torch.zeros(out_dim, rank, dtype=dtype)
    k = max(0, min(2 * rank, n) - rank)
    B[:, :k] = U[:, rank:rank + k]
    c = out_dim ** 0.25 / math.sqrt(gamma)
    return (c * A).to(grad.dtype), (c * B).to(grad.dtype)


def sample_batches(data: Data, n_batches: int, batch_size: int, seed: int) -> list[Batch]:
    """Disjoint batches drawn without replacement from the training split (fewer when the
    split is small)."""
    x, y = data.train
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    perm = perm[: n_batches * batch_size]
    return [(x[idx], y[idx]) for idx in perm.split(batch_size)]


class LoraGA(LoRA):
    """LoRA initialised from the SVD of the estimated full fine-tuning gradient."""

    name = "lora-ga"
    Config = LoraGAConfig
    paper = PAPER

    def apply(self, model: nn.Module, data: Data) -> nn.Module:
        c = self.config
        targets = linear_layers(model, c.target)
        # the run seed was set by the backend just before: one estimate per run seed
        batches = sample_batches(data, c.grad_batches, c.grad_batch_size, torch.initial_seed())
        device = next(model.parameters()).device
        batches = [(x.to(device), y.to(device)) for x, y in batches]
        grads = estimate_gradients(model, [lin.weight for _, lin in targets], batches,
                                   lambda out, y: default_loss(out, y, data))
        by_name = dict(zip((name for name, _ in targets), grads))

        def make(name: str, linear: nn.Linear) -> LoRALinear:
            layer = LoRALinear(linear, c.rank, c.alpha, c.dropout)
            layer.set_factors(*gradient_factors(by_name[name], layer.rank, c.gamma))
            return layer

        inject(model, c.target, make)
        return model
