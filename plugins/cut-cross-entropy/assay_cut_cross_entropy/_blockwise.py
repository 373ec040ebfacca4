"""Cross-entropy from features and classifier weights, one (token, vocabulary) tile at a time.

For features ``E`` (N, D), classifier weight ``W`` (V, D), optional bias ``c`` (V,) and
targets ``y`` (N,), the mean loss is ``mean_i(lse_i - z_i)`` with

    z_i   = E_i . W_{y_i} + c_{y_i}                      (an indexed dot product: no logits)
    lse_i = log sum_j exp(E_i . W_j + c_j)               (a running logaddexp over tiles)

so only one ``(token_block, vocab_block)`` tile of logits exists at a time, never the (N, V)
matrix. The backward pass recomputes each tile's logits, turns them into softmax values
``S = exp(logits - lse)`` with the saved ``lse``, and accumulates (g = upstream grad / N)

    dE = g * (S @ W - W[y])      dW = g * (S^T @ E - scatter_y(E))      dc = g * (sum_i S - count_y)

The ``- W[y]`` / ``scatter_y`` terms come from the indexed path, so the tiles only carry the
softmax. Gradient filtering (paper, Sec. 4): a tile whose softmax values are all below
``filter_eps`` contributes below that precision and its two matmuls are skipped.
"""
from __future__ import annotations

from typing import Any

import torch


def _tile_logits(e: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, v0: int,
                 v1: int, dtype: torch.dtype) -> torch.Tensor:
    out = e @ w[v0:v1].T                                  # (n_tile, v_tile)
    if b is not None:
        out = out + b[v0:v1]
    return out.to(dtype)


def _blocks(n: int, size: int) -> list[tuple[int, int]]:
    return [(i, min(i + size, n)) for i in range(0, n, size)]


class LinearCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of ``F.linear(e, w, b)`` against ``y``, computed tile by tile."""

    @staticmethod
    def forward(ctx: Any, e: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None,
                y: torch.Tensor, token_block: int, vocab_block: int, filter_eps: float,
                stats: dict[str, int] | None) -> torch.Tensor:
        acc = torch.promote_types(e.dtype, torch.float32)   # lse accumulates in >= float32
        n, v = e.shape[0], w.shape[0]
        lse = torch.empty(n, dtype=acc, device=e.device)
        for n0, n1 in _blocks(n, token_block):
            running = None
            for v0, v1 in _blocks(v, vocab_block):
                part = torch.logsumexp(_tile_logits(e[n0:n1], w, b, v0, v1, acc), dim=1)
                running = part if running is None else torch.logaddexp(running, part)
            lse[n0:n1] = running
        z = (e * w[y]).sum(1).to(acc)                      # (N,) correct-class logits
        if b is not None:
            z = z + b[y].to(acc)
        ctx.save_for_backward(e, w, b, y, lse)
        ctx.blocks = (token_block, vocab_block)
        ctx.filter_eps, ctx.stats = filter_eps, stats
        return (lse - z).mean().to(e.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        e, w, b, y, lse = ctx.saved_tensors
        token_block, vocab_block = ctx.blocks
        scale = float(grad) / e.shape[0]
        need_e, need_w, need_b = ctx.needs_input_grad[:3]
        de = torch.zeros_like(e) if need_e else None
        dw = torch.zeros_like(w) if need_w else None
        db = torch.zeros_like(b) if (b is not None and need_b) else None
        tiles = skipped = 0
        for n0, n1 in _blocks(e.shape[0], token_block):
            for v0, v1 in _blocks(w.shape[0], vocab_block):
                s = _tile_logits(e[n0:n1], w, b, v0, v1, lse.dtype)
                s.sub_(lse[n0:n1, None]).exp_()             # softmax values of this tile
                tiles += 1
                if ctx.filter_eps > 0 and float(s.max()) < ctx.filter_eps:
                    skipped += 1
                    continue
                s = s.mul_(scale).to(e.dtype)
                if de is not None:
                    de[n0:n1].addmm_(s, w[v0:v1])
                if dw is not None:
                    dw[v0:v1].addmm_(s.T, e[n0:n1])
                if db is not None:
                    db[v0:v1] += s.sum(0)
        if de is not None:
            de.sub_(w[y], alpha=scale)
        if dw is not None:
            dw.index_add_(0, y, e, alpha=-scale)
        if db is not None:
            db.index_add_(0, y, torch.full_like(y, 1, dtype=db.dtype), alpha=-scale)
        if ctx.stats is not None:
            ctx.stats["tiles"] = ctx.stats.get("tiles", 0) + tiles
            ctx.stats["skipped"] = ctx.stats.get("skipped", 0) + skipped
        return de, dw, db, None, None, None, None, None


def linear_cross_entropy(e: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None,
                         y: torch.Tensor, *, token_block: int = 1024, vocab_block: int = 4096,
                         filter_eps: float = 0.0,
                         stats: dict[str, int] | None = None) -> torch.Tensor:
    """``F.cross_entropy(F.linear(e, w, b), y)`` without building the (N, V) logits.

    ``e``: (N, D) features, ``w``: (V, D), ``b``: (V,) or None, ``y``: (N,) class ids.
    ``stats`` (optional) counts backward tiles and filtered-out tiles.
    """
    if e.dim() != 2 or w.dim() != 2 or e.shape[1] != w.shape[1]:
        raise ValueError(f"features {tuple(e.shape)} and weight {tuple(w.shape)} do not match")
    if y.shape != e.shape[:1]:
        raise ValueError(f"targets {tuple(y.shape)} for {e.shape[0]} feature rows")
    return LinearCrossEntropy.apply(e, w, b, y, token_block, vocab_block, filter_eps, stats)
