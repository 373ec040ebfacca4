"""Train with the standard loop, then measure the top of the training-loss Hessian spectrum.

This sits in the ``trainer`` slot because a method can only add end-of-run numbers from a
slot; it trains exactly like the core loop (``ctx.run_steps``) and only then looks
at the Hessian, on a fixed batch of the first ``n_examples`` training examples. It records in
``ctx.final_metrics``:

- ``hessian/eig_1`` ... ``hessian/eig_<top_k>``: the largest eigenvalues (Lanczos Ritz values);
- ``hessian/outliers``: how many sit above the largest relative gap among them;
- ``hessian/gap_ratio``: that gap, lambda_outliers / lambda_(outliers+1);
- ``hessian/bulk_edge``: the first eigenvalue below the gap; ``hessian/n_params``.
"""
from __future__ import annotations

import torch
from assay import Trainer

from assay_hessian_bulk_outliers.config import HessianSpectrumConfig

from .spectrum import PAPER, count_outliers, hvp_operator, lanczos


def top_eigenvalues(ctx, top_k: int, iters: int, n_examples: int) -> torch.Tensor:
    """The ``top_k`` largest Hessian eigenvalues of the training loss, descending."""
    x, y = ctx.data.train
    if ctx.train_idx is not None:
        x, y = x[ctx.train_idx], y[ctx.train_idx]
    if n_examples:
        x, y = x[:n_examples], y[:n_examples]
    x, y = x.to(ctx.device), y.to(ctx.device)
    params = [p for p in ctx.model.parameters() if p.requires_grad]
    matvec = hvp_operator(lambda: ctx.loss(ctx.model, x, y), params)
    n = sum(p.numel() for p in params)
    ritz = lanczos(matvec, n, iters, torch.Generator().manual_seed(ctx.run.seed))
    return ritz.flip(0)[:top_k]


class HessianSpectrum(Trainer):
    """Standard training, then the Hessian's top eigenvalues and its outlier count."""

    name = "hessian-bulk-outliers"
    Config = HessianSpectrumConfig
    paper = PAPER

    def train(self, ctx) -> None:

        ctx.run_steps(ctx.total_steps)
        c = self.config
        top = top_eigenvalues(ctx, c.top_k, c.lanczos_iters, c.n_examples)
        outliers, gap = count_outliers(top, c.floor)
        ctx.final_metrics.update({f"hessian/eig_{i + 1}": float(v) for i, v in enumerate(top)})
        ctx.final_metrics.update({
            "hessian/outliers": float(outliers), "hessian/gap_ratio": gap,
            "hessian/bulk_edge": float(top[outliers]) if outliers < len(top) else float("nan"),
            "hessian/n_params": float(sum(p.numel() for p in ctx.model.parameters()
                                          if p.requires_grad))})
