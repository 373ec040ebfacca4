"""DCT-AdamW, built on fira's GaLore, and a benchmark of the projection's cost.

GaLore (``assay_fira.method.GaLore``, wrapping ``pytorch_optimizer.GaLore``) keeps Adam's
moments of a weight ``W`` (m x n) in a rank-``r`` subspace, refreshed every
``update_proj_gap`` steps from the SVD of the current gradient ``G``. DCT-AdamW replaces only
that refresh. The basis is fixed: the orthonormal DCT-II matrix ``Q`` (d x d, built once per
size) of the projected side (d = n when m >= n, else m). At a refresh, one product measures
how much of the gradient each basis vector carries, and the ``r`` best are kept:

    right (m >= n):  S = G Q,    score_j = ||S[:, j]||,   P = Q[:, top_r]^T   (r x n)
    left  (m < n):   S = Q^T G,  score_i = ||S[i, :]||,   P = Q[:, top_r]     (m x r)

Since ``Q`` is orthonormal, those ``r`` columns are the choice that keeps the most gradient
energy ``||G P^T||_F`` among all ``r``-subsets of ``Q``: the best a fixed basis can do, at
the cost of one matrix product and a sort instead of an SVD. Everything else (Adam on the
projected gradient, projecting back, the parameters left dense) is GaLore's, unchanged.
``tests/test_dct_adamw.py`` checks the selection and a full step against hand-written
equations. Paper: arXiv:2505.17967 (the catalog's reference for DCT-AdamW).
"""
from __future__ import annotations

import functools
import math
import statistics
import time
from typing import Any, ClassVar

import torch
from assay import Paper, RunContext, Trainer
from assay_fira.method import GaLore
from pytorch_optimizer.optimizer.utils.galore import GaLoreProjector

from assay_dct_adamw.config import DCTAdamWConfig, ProjectionBenchConfig

PAPER = Paper(title="SVD-Free Low-Rank Adaptive Gradient Optimization for Large Language "
                    "Models", arxiv="2505.17967", year=2025)


@functools.lru_cache(maxsize=32)
def dct_basis(d: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The orthonormal DCT-II basis of size ``d``, one basis vector per column:
    ``Q[i, k] = c_k cos(pi (i + 1/2) k / d)`` with ``c_0 = sqrt(1/d)``, ``c_k = sqrt(2/d)``."""
    i = torch.arange(d, dtype=torch.float64)[:, None]
    k = torch.arange(d, dtype=torch.float64)[None, :]
    q = torch.cos(math.pi * (i + 0.5) * k / d) * math.sqrt(2.0 / d)
    q[:, 0] = math.sqrt(1.0 / d)
    return q.to(dtype)


def dct_columns(grad: torch.Tensor, rank: int, side: str) -> torch.Tensor:
    """The projection DCT-AdamW keeps for ``grad``: ``Q[:, top_r]`` (left, m x r) or its
    transpose (right, r x n), the ``rank`` basis vectors carrying the most gradient energy."""
    g = grad.float()
    if side == "left":
        q = dct_basis(g.shape[0]).to(g.device)
        scores = (q.T @ g).norm(dim=1)
    else:
        q = dct_basis(g.shape[1]).to(g.device)
        scores = (g @ q).norm(dim=0)
    top = torch.topk(scores, rank).indices
    cols = q[:, top]
    return (cols if side == "left" else cols.T).contiguous().to(grad.dtype)


class DCTProjector(GaLoreProjector):
    """GaLore's projector with the SVD refresh replaced by the DCT column choice (only
    ``projection_type='std'``: the smaller side is projected, as in GaLore)."""

    def get_orthogonal_matrix(self, weights: torch.Tensor, projection_type: str,
                              from_random_matrix: bool = False) -> torch.Tensor:
        if projection_type not in ("left", "right") or from_random_matrix:
            raise ValueError("DCTProjector supports the 'std' projection only")
        self.indices_refreshed = getattr(self, "indices_refreshed", 0) + 1
        return dct_columns(weights, self.rank, projection_type)


class DCTAdamW(GaLore):
    """DCT-AdamW: fira's GaLore with ``DCTProjector`` in place of the SVD projector."""

    name = "dct-adamw"
    Config = DCTAdamWConfig
    paper = PAPER

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        opt = super().build(param_groups)
        for group in opt.param_groups:
            if "rank" not in group:
                continue
            for p in group["params"]:
                if p.dim() == 2:            # GaLore creates its projector only when missing
                    opt.state[p]["projector"] = DCTProjector(
                        rank=group["rank"], update_proj_gap=group["update_proj_gap"],
                        scale=group["scale"], projection_type=group["projection_type"])
        return opt


class ProjectionBench(Trainer):
    """Times one projection refresh on random ``dim x dim`` gradients: GaLore's (the SVD, as
    ``GaLoreProjector`` computes it) against DCT-AdamW's (a product with the cached basis and
    a top-r). Records the median process-CPU milliseconds of each, ``cost/svd_refresh_ms``
    and ``cost/dct_refresh_ms`` (timings: ``cost/`` metrics are not expected to repeat).
    Then it runs the standard loop (``ctx.run_steps``), so it composes like any trainer; the
    benchmark arm trains for one step."""

    name = "dct-projection-bench"
    Config = ProjectionBenchConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"trainer": {"name": "dct-projection-bench", "dim": 32, "rank": 4,
                                "repeats": 3}}}

    def train(self, ctx: RunContext) -> None:
        c = self.config
        grads = [torch.randn(c.dim, c.dim, generator=ctx.generator) for _ in range(c.repeats)]
        svd = GaLoreProjector(rank=c.rank, projection_type="std")
        dct = (DCTProjector if c.contender == "dct" else GaLoreProjector)(
            rank=c.rank, projection_type="std")
        dct_basis(c.dim)                                  # built once, before training
        times = {"svd": [], "dct": []}
        for g in grads:
            for name, proj in (("svd", svd), ("dct", dct)):
                start = time.process_time()
                proj.get_orthogonal_matrix(g, "left")
                times[name].append(1e3 * (time.process_time() - start))
        ctx.final_metrics.update({f"cost/{k}_refresh_ms": statistics.median(v)
                                  for k, v in times.items()})
        ctx.run_steps(ctx.total_steps, ctx.set_lr)
