"""TrAct's first-layer update, as a wrapper around any optimizer.

The first layer computes z = x W^T (+ b) on inputs x: for a Linear layer the rows of x are the
examples, for a convolution they are the input patches (n rows = batch x positions, d columns =
in_channels x kernel size). Its weight gradient G = dL/dW is then proportional to the raw input
values, so high-contrast inputs dominate learning. TrAct (arXiv:2410.23970) instead
takes a gradient step on the pre-activations z and finds the weights that best produce the
proposed z, with a ridge term lambda keeping them near the current ones. Its closed form
(normalised by the number of rows n, as in the authors' code) replaces the weight
gradient by

    G_tract = G (x^T x / n + lambda I)^-1                 # (out, d) @ (d, d)

and leaves the bias gradient unchanged. With plain SGD of rate eta this is exactly the
minimiser of ||x W^T - z*||^2 / n + lambda ||W - W_old||^2 with z* = z - eta n dL/dz; as lambda
grows it tends to G / lambda (ordinary training with a smaller step).

Design: the modified gradient must be computed after backward and before the optimizer
step, a point assay's loop exposes to no slot, so ``tract`` sits in the optimizer slot and
wraps an inner optimizer given as ``inner: {name, **config}`` (sgd, adamw, lion, ...). A
forward pre-hook on the first layer keeps the latest training batch's input; a torch step
pre-hook rewrites the first layer's weight gradient; then the inner optimizer steps as usual.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from assay import Config, Optimizer, Paper, UserError
from assay.lib.optim import WrappedOptimizer
from torch import nn

from assay_tract.config import TrActConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="TrAct: Making First-layer Pre-Activations Trainable", arxiv="2410.23970",
              year=2024)

LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)


def first_layer(model: nn.Module, name: str | None = None) -> nn.Module:
    """The layer TrAct changes: ``name`` if given, else the first Linear/Conv1d/Conv2d in
    module order (the input layer of assay's mlp and cnn)."""
    if name:
        try:
            layer = model.get_submodule(name)
        except AttributeError:
            raise UserError(f"methods.optimizer.layer: the model has no module {name!r}") from None
        if not isinstance(layer, LAYERS):
            raise UserError(f"methods.optimizer.layer: {name!r} is a {type(layer).__name__}; "
                            "TrAct needs a Linear, Conv1d or Conv2d")
        return layer
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            raise UserError("TrAct is for continuous inputs: this model starts with an "
                            "embedding (its rows already train like activations)")
        if isinstance(module, LAYERS) and module.weight.requires_grad:
            return module
    raise UserError("TrAct found no trainable Linear/Conv1d/Conv2d layer in the model")


def input_rows(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The layer's input as an (n, d) matrix whose rows each produce one output vector:
    examples for Linear, zero-padded patches for Conv1d/Conv2d (ordered like the weight)."""
    if isinstance(layer, nn.Linear):
        return x.reshape(-1, layer.in_features)
    if layer.groups != 1 or layer.padding_mode != "zeros" or isinstance(layer.padding, str):
        raise UserError("TrAct supports convolutions with groups=1, zero padding given as "
                        "numbers")
    if isinstance(layer, nn.Conv1d):              # (B, C, L) -> (B, C, 1, L): a 1 x k kernel
        x = x.unsqueeze(2)
        kernel, dilation = (1, *layer.kernel_size), (1, *layer.dilation)
        padding, stride = (0, *layer.padding), (1, *layer.stride)
    else:
        kernel, dilation, padding, stride = (layer.kernel_size, layer.dilation, layer.padding,
                                             layer.stride)
    patches = F.unfold(x, kernel, dilation=dilation, padding=padding, stride=stride)  # (B, d, P)
    return patches.transpose(1, 2).reshape(-1, patches.shape[1])                     # (B*P, d)


def tract_gradient(grad: torch.Tensor, rows: torch.Tensor, lam: float) -> torch.Tensor:
    """G (x^T x / n + lambda I)^-1 for a weight gradient of any layer shape."""
    g = grad.reshape(grad.shape[0], -1)                                   # (out, d)
    rows = rows.to(g.dtype)
    gram = rows.T @ rows / rows.shape[0]                                  # (d, d)
    gram = gram + lam * torch.eye(gram.shape[0], dtype=g.dtype, device=g.device)
    return torch.linalg.solve(gram, g.T).T.reshape(grad.shape)            # gram is symmetric


class TrAct(WrappedOptimizer):
    """TrAct on the first layer, any optimizer for the step."""

    name = "tract"
    Config = TrActConfig
    paper = PAPER

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self.inner: Optimizer | None = None
        self.layer: nn.Module | None = None
        self._rows: torch.Tensor | None = None      # the latest training batch's input rows

    def attach(self, layer: nn.Module) -> None:
        """Watch ``layer``: keep its input on every forward that builds a graph."""
        self.layer = layer
        layer.register_forward_pre_hook(self._keep_input)

    def setup(self, ctx: RunContext) -> None:
        self.attach(first_layer(ctx.model, self.config.layer))
        super().setup(ctx)

    def wrap(self, opt: torch.optim.Optimizer) -> torch.optim.Optimizer:
        opt.register_step_pre_hook(self._precondition)
        return opt

    def _keep_input(self, layer: nn.Module, args: tuple[Any, ...]) -> None:
        if layer.training and torch.is_grad_enabled():
            self._rows = input_rows(layer, args[0].detach())

    @torch.no_grad()
    def _precondition(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.layer is None:
            raise RuntimeError("tract: no layer attached (call setup(ctx) or attach(layer))")
        weight = self.layer.weight
        if weight.grad is None or self._rows is None:
            return
        weight.grad.copy_(tract_gradient(weight.grad, self._rows, self.config.lam))
        self._rows = None                # one batch, one step
