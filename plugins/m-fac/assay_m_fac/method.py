"""One-shot pruning by the Optimal Brain Surgeon rule with M-FAC's inverse-Fisher products
(Frantar, Kurtic and Alistarh, NeurIPS 2021).

With a quadratic model of the loss whose curvature is F, removing weight q costs
rho_q = w_q^2 / (2 [F^{-1}]_qq), and the other weights best compensate by
delta = -w_q F^{-1} e_q / [F^{-1}]_qq. Pruning a set Q at once, as the official code does,
takes the |Q| lowest rho_q and adds up their compensations (each weight's own, assumed
independent): w += F^{-1} t with t_q = -w_q / [F^{-1}]_qq on Q, then w_Q = 0. The target
sparsity is reached in ``recomputations`` rounds, each keeping a constant share of what is
left, and every round draws fresh gradients at the current weights and restricts F to the
weights still there.

``curvature`` chooses F:

- ``mfac``: the empirical Fisher of ``n_grads`` minibatch gradients (``grad_batch`` examples
  each), damped by ``damp`` (``assay_m_fac.inverse``: exact, matrix-free);
- ``diagonal``: its diagonal only (diagonal-Fisher pruning; no compensation);
- ``identity``: F = damp I, for which rho is w^2 up to a constant and the compensation is the
  zeroing itself: global magnitude pruning.

The method sits in the ``pruning`` slot and acts once, after optimizer step ``at_step``
(default: the last), so the run's final evaluation is the pruned, not retrained, network;
masks are re-applied after any later step. It records the validation numbers just before
pruning (``prune/dense_acc``...), the sparsity reached, and, with ``check_exact``, the
relative error of the first round's inverse-Fisher products against the dense inverse
(``mfac/ihvp_rel_err``, the largest over a random vector, the mean gradient and the diagonal).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Config, Paper, Pruning, UserError

from assay_m_fac.config import MFACPruningConfig

from .inverse import StaticInverseFisher, dense_fisher

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="M-FAC: Efficient Matrix-Free Approximations of Second-Order Information",
              arxiv="2107.03356", year=2021)
MAX_DENSE = 8000          # check_exact forms a d x d matrix: refuse larger d


class MFACPruning(Pruning):
    """One-shot OBS pruning with M-FAC (or diagonal / identity curvature)."""

    name = "m-fac"
    Config = MFACPruningConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"pruning": {"name": "m-fac", "sparsity": 0.3, "n_grads": 8,
                                "grad_batch": 4, "recomputations": 2}}}

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self.masks: dict[str, torch.Tensor] | None = None

    def prune(self, ctx: RunContext, step: int) -> None:
        target = self.config.at_step or ctx.total_steps
        if step == target:
            self.prune_now(ctx)
        elif step > target and self.masks is not None:
            from assay.lib.pruning import apply_masks, prunable

            apply_masks(prunable(ctx.model, self.config.include_readout), self.masks)

    def prune_now(self, ctx: RunContext) -> None:
        from assay.lib.pruning import prunable, sparsity_metrics

        c = self.config
        params = prunable(ctx.model, c.include_readout)
        ctx.final_metrics.update({f"prune/dense_{k.split('/')[-1]}": v
                                  for k, v in ctx.evaluate().items()})
        mask = torch.ones(sum(p.numel() for p in params.values()), dtype=torch.bool)
        for j in range(1, c.recomputations + 1):
            keep = (1 - c.sparsity) ** (j / c.recomputations)
            n_drop = int(mask.numel() * (1 - keep)) - int((~mask).sum())
            mask = self.prune_round(ctx, params, mask, n_drop, first=j == 1)
        self.masks = unflatten(mask, params)
        ctx.final_metrics.update(sparsity_metrics(ctx.model, params, c.sparsity))
        ctx.final_metrics["prune/n_val"] = float(len(ctx.data.val[0]))

    def prune_round(self, ctx: RunContext, params: dict[str, torch.nn.Parameter],
                    mask: torch.Tensor, n_drop: int, first: bool) -> torch.Tensor:
        """Remove the ``n_drop`` lowest-saliency weights among those still kept, with the
        curvature's compensation; returns the new mask."""
        c = self.config
        w = flat(params).double()
        live = w[mask]
        if c.curvature == "identity":
            order, update = torch.argsort(live.pow(2), stable=True), None
        else:
            grads = self.gradients(ctx, params)[:, mask]
            inverse = self.curvature_of(grads)
            if first and c.check_exact:
                ctx.final_metrics["mfac/ihvp_rel_err"] = exactness(inverse, grads, c.damp)
            diag = inverse.diag()
            order = torch.argsort(live.pow(2) / (2 * diag), stable=True)
            update = (inverse, diag)
        drop = order[:max(n_drop, 0)]
        if update is not None:
            inverse, diag = update
            t = torch.zeros_like(live)
            t[drop] = -live[drop] / diag[drop]
            live = live + inverse.mul(t)
        live[drop] = 0.0
        w[mask] = live
        kept = mask.clone()
        kept[mask.nonzero().flatten()[drop]] = False
        w[~kept] = 0.0
        write(params, w)
        return kept

    def curvature_of(self, grads: torch.Tensor) -> Any:
        if self.config.curvature == "mfac":
            return StaticInverseFisher(grads, self.config.damp)
        return DiagonalInverseFisher(grads, self.config.damp)

    def gradients(self, ctx: RunContext, params: dict[str, torch.nn.Parameter]
                  ) -> torch.Tensor:
        """n_grads minibatch gradients of the task loss (grad_batch examples each) at the
        current weights, flattened over the prunable weights, in float64: per-example
        gradients (torch.func, ``assay.lib.hessian``) averaged in groups."""
        from assay.lib.hessian import per_example_grads

        c = self.config
        x, y = ctx.batch(c.n_grads * c.grad_batch)
        was = ctx.model.training
        ctx.model.eval()
        per = per_example_grads(ctx.model, ctx.default_loss, x, y)
        ctx.model.train(was)
        names = {id(p): n for n, p in ctx.model.named_parameters()}
        rows = [per[names[id(p)]].flatten(1) for p in params.values()]
        g = torch.cat(rows, 1).double()                       # (n_grads * grad_batch, d)
        return g.view(c.n_grads, c.grad_batch, -1).mean(1)


class DiagonalInverseFisher:
    """The inverse of the Fisher's diagonal, lambda + mean g^2 (no cross terms)."""

    def __init__(self, grads: torch.Tensor, damp: float) -> None:
        self.inv = 1.0 / (damp + grads.pow(2).mean(0))

    def mul(self, x: torch.Tensor) -> torch.Tensor:
        return self.inv * x

    def diag(self) -> torch.Tensor:
        return self.inv


def exactness(inverse: Any, grads: torch.Tensor, damp: float) -> float:
    """The largest relative error of ``inverse``'s products (a random vector, the mean
    gradient) and diagonal against the dense inverse of the damped empirical Fisher."""
    d = grads.shape[1]
    if d > MAX_DENSE:
        raise UserError(f"methods.pruning.check_exact: {d} weights is too many for a dense "
                        f"check (at most {MAX_DENSE})")
    dense = torch.linalg.inv(dense_fisher(grads, damp))
    v = torch.randn(d, generator=torch.Generator().manual_seed(0), dtype=grads.dtype)
    errors = [rel_err(inverse.mul(x), dense @ x) for x in (v, grads.mean(0))]
    errors.append(rel_err(inverse.diag(), torch.diagonal(dense)))
    return max(errors)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def flat(params: dict[str, torch.nn.Parameter]) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in params.values()])


@torch.no_grad()
def write(params: dict[str, torch.nn.Parameter], w: torch.Tensor) -> None:
    start = 0
    for p in params.values():
        p.copy_(w[start:start + p.numel()].view_as(p).to(p.dtype))
        start += p.numel()


def unflatten(mask: torch.Tensor, params: dict[str, torch.nn.Parameter]
              ) -> dict[str, torch.Tensor]:
    out, start = {}, 0
    for name, p in params.items():
        out[name] = mask[start:start + p.numel()].view_as(p)
        start += p.numel()
    return out
