"""Fira and its GaLore baseline, wrapping ``pytorch_optimizer.Fira`` / ``pytorch_optimizer.GaLore``.

Both keep Adam's moments for a weight matrix ``W`` (m x n) in a rank-``r`` subspace. Every
``update_proj_gap`` steps the projection ``P`` is refreshed from the SVD of the current gradient
(the ``r`` top singular vectors of the smaller side, so the state is ``r x n`` or ``m x r``).
For a gradient ``G`` with ``R = P^T G`` (written for the left-projected case), one step is:

    GaLore:  W <- W - lr * scale * P psi(R)                  # psi: Adam on the low-rank R
    Fira:    W <- W - lr * (scale * P psi(R) + S)            # plus the out-of-subspace part
             S  = phi * (G - scale * P R)                     # residual, rescaled column-wise
             phi_j = ||psi(R)[:, j]|| / ||R[:, j]||           # Adam's own gain on column j
             if ||S|| > 1.01 * ||S_prev||: S <- S * 1.01 ||S_prev|| / ||S||   # growth limiter

(arXiv:2410.01623, Sec. 3, Eqs. 4-9 and Algorithm 1). With ``scale = 1`` this is the paper's
equations exactly; ``scale < 1`` reproduces the authors' code, which also subtracts the scaled
projection. Only the targeted 2-D weights are projected; every other parameter (biases, norms,
embeddings, the readout) gets the same plain Adam update inside the same optimizer.
``tests/test_fira.py`` checks the wrapped step against a hand-written version of these equations.
"""
from __future__ import annotations

from typing import Any

import torch
from assay import Config, Optimizer, Paper

from assay_fira.config import FiraConfig, GaLoreConfig

PAPER = Paper(title="Fira: Can We Achieve Full-rank Training of LLMs Under Low-rank Constraint?",
              arxiv="2410.01623", year=2024)


def _state_numel(opt: torch.optim.Optimizer) -> int:
    """Elements of every tensor the optimizer keeps (moments, projections, limiter norms)."""
    total = 0
    for state in opt.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                total += value.numel()
            ortho = getattr(value, "ortho_matrix", None)       # the GaLore projector object
            if isinstance(ortho, torch.Tensor):
                total += ortho.numel()
    return total


class Fira(Optimizer):
    """Fira: GaLore's low-rank Adam plus the norm-scaled residual gradient."""

    name = "fira"
    Config = FiraConfig
    paper = PAPER
    _impl = "Fira"

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self._targets: set[int] | None = None     # ids of parameters to project (set in setup)
        self._opt: torch.optim.Optimizer | None = None

    def setup(self, ctx: Any) -> None:
        if self.config.target == "linear":
            readout = getattr(ctx.model, "readout", None)
            self._targets = {id(m.weight) for m in ctx.model.modules()
                             if isinstance(m, torch.nn.Linear) and m is not readout}

    def _projected(self, p: torch.Tensor) -> bool:
        if p.dim() != 2 or min(p.shape) <= self.config.rank:
            return False                  # rank >= min(m, n): nothing to save, plain Adam
        return self._targets is None or id(p) in self._targets

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        import pytorch_optimizer
        from assay.lib.optim import scaled_groups

        c = self.config
        groups: list[dict[str, Any]] = []
        for g in scaled_groups(param_groups, c.lr, c.weight_decay):
            low = [p for p in g["params"] if self._projected(p)]
            dense = [p for p in g["params"] if not self._projected(p)]
            if low:
                groups.append({**g, "params": low, "rank": c.rank, "scale": c.scale,
                               "update_proj_gap": c.update_proj_gap, "projection_type": "std"})
            if dense:
                groups.append({**g, "params": dense})
        cls = getattr(pytorch_optimizer, self._impl)
        self._opt = cls(groups, lr=c.lr, betas=(c.beta1, c.beta2), eps=c.eps,
                        weight_decay=c.weight_decay)
        return self._opt

    def after_step(self, ctx: Any, step: int) -> None:
        if step == ctx.total_steps and self._opt is not None:
            # 4 bytes per fp32 element: compare with AdamW's 2 x params
            ctx.final_metrics[f"{self.name}/state_mb"] = 4 * _state_numel(self._opt) / 2**20


class GaLore(Fira):
    """GaLore (Zhao et al., 2024): Adam on the rank-r projected gradient only."""

    name = "fira-galore"
    Config = GaLoreConfig
    paper = Paper(title="GaLore: Memory-Efficient LLM Training by Gradient Low-Rank Projection",
                  arxiv="2403.03507", year=2024)
    _impl = "GaLore"
