"""PiSSA: LoRA's architecture, started from the principal part of each weight (Meng et al.,
2024).

For a Linear weight W (out, in) with SVD W = U diag(S) V^T and LoRA scale s = alpha / r:

    B = U[:, :r] diag(sqrt(S[:r] / s))          # (out, r), trainable
    A = diag(sqrt(S[:r] / s)) V[:, :r]^T        # (r, in),  trainable
    W_res = W - s * B @ A                       # frozen: the minor singular directions

so s * B @ A is exactly the best rank-r part of W and the model computes the same function at
step 0. The paper writes the layer as Y = X W with W (in, out); its A = U_r S_r^(1/2) and
B = S_r^(1/2) V_r^T are the transposes of torch's ``lora_A`` / ``lora_B`` above (for s = 1).
"""
from __future__ import annotations

import torch
from assay import Data, Paper
from assay.lib.adapters import LoRA, LoRALinear, inject
from torch import nn

from assay_pissa.config import PiSSAConfig

PAPER = Paper(title="PiSSA: Principal Singular Values and Singular Vectors Adaptation of Large "
                    "Language Models", arxiv="2404.02948", year=2024)


def principal_factors(weight: torch.Tensor, rank: int, scale: float = 1.0,
                      niter: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, B)`` with ``scale * B @ A`` the rank-``rank`` truncated SVD of ``weight``.
    ``niter > 0`` uses a randomized SVD with that many subspace iterations (the paper's fast
    initialisation); 0 is the exact SVD."""
    w = weight.detach().to(torch.promote_types(weight.dtype, torch.float32))
    if niter:
        U, S, V = torch.svd_lowrank(w, q=rank, niter=niter)
        Vh = V.T
    else:
        U, S, Vh = torch.linalg.svd(w, full_matrices=False)
    root = (S[:rank] / scale).sqrt()
    A = root[:, None] * Vh[:rank]                # (r, in)
    B = U[:, :rank] * root[None, :]              # (out, r)
    return A.to(weight.dtype), B.to(weight.dtype)


class PiSSA(LoRA):
    """LoRA initialised from each weight's top-r singular values and vectors."""

    name = "pissa"
    Config = PiSSAConfig
    paper = PAPER

    def apply(self, model: nn.Module, data: Data) -> nn.Module:
        c = self.config

        def make(name: str, linear: nn.Linear) -> LoRALinear:
            layer = LoRALinear(linear, c.rank, c.alpha, c.dropout)
            layer.set_factors(*principal_factors(linear.weight, layer.rank, layer.scale,
                                                 c.niter))
            return layer

        inject(model, c.target, make)
        return model
