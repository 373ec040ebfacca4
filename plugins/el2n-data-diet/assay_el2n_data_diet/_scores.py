"""Per-example scores of one probe model: EL2N and GraNd (arXiv:2107.07075, Sec. 2).

For an example (x, y) with one-hot target e_y and a model f with softmax output p(x):

    EL2N(x, y)  = || p(x) - e_y ||_2                     (the error vector's L2 norm)
    GraNd(x, y) = || d loss(f(x), y) / d weights ||_2    (the per-example gradient norm)

Both are averaged over independently initialised probes by the caller. For token sequences
(``lm``) EL2N is the mean over positions and GraNd uses the sequence's mean token loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


@torch.no_grad()
def el2n(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """(N,) error L2 norms of ``model`` on every example."""
    model.eval()
    parts = []
    for i in range(0, x.shape[0], chunk):
        out = model(x[i:i + chunk]).float()               # (n, C) or (n, T, V)
        err = out.softmax(-1) - F.one_hot(y[i:i + chunk], out.shape[-1]).to(out.dtype)
        norm = err.norm(dim=-1)                           # (n,) or (n, T)
        parts.append(norm if norm.dim() == 1 else norm.mean(1))
    return torch.cat(parts)


def grand(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N,) per-example gradient norms over all trainable parameters of ``model``."""
    from torch.func import functional_call, grad, vmap

    model.eval()
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    buffers = {k: b.detach() for k, b in model.named_buffers()}

    def loss_one(p: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, (p, buffers), (xi.unsqueeze(0),))
        return _cross_entropy(out, yi.unsqueeze(0))

    per_example = vmap(grad(loss_one), in_dims=(None, 0, 0))
    n_params = sum(p.numel() for p in params.values())
    chunk = max(1, min(256, 2**25 // max(1, n_params)))  # keep chunk x params <= 128 MiB
    parts = []
    for i in range(0, x.shape[0], chunk):
        grads = per_example(params, x[i:i + chunk], y[i:i + chunk])
        sq = sum(g.flatten(1).pow(2).sum(1) for g in grads.values())
        parts.append(sq.sqrt())
    return torch.cat(parts)


def train_probe(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: float,
                batch_size: int, lr: float, generator: torch.Generator) -> None:
    """A few epochs of Adam on the full training set (a fresh permutation per epoch)."""
    steps = round(epochs * x.shape[0] / batch_size)
    if steps == 0:
        return
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.empty(0, dtype=torch.long)
    for _ in range(steps):
        if order.numel() < batch_size:
            order = torch.cat([order, torch.randperm(x.shape[0], generator=generator)])
        idx, order = order[:batch_size], order[batch_size:]
        loss = _cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
