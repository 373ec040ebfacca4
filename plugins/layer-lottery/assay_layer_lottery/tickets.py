"""Structural surgery on a residual CNN at initialisation: score its residual blocks, remove
blocks (a layer ticket), or keep a subset of channels in every layer (a filter ticket).

Written against the layout of the core ``cnn`` model with ``residual: true``: ``convs`` (a
ModuleList whose first entry is the stem that changes the channel count; every later entry is a
residual block ``h + relu(norm(conv(h)))``), ``norms`` (a ModuleList beside it, or None) and
``readout`` (a Linear on the pooled channels). Removing a residual block leaves the identity in
its place, so the network stays well formed at any depth.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from assay import UserError
from assay.lib.hessian import hvp_operator
from torch import nn

from .config import Criterion


def residual_cnn(model: nn.Module) -> tuple[nn.ModuleList, nn.ModuleList | None]:
    """The model's ``convs`` and ``norms``, after checking it is a residual CNN."""
    convs, norms = getattr(model, "convs", None), getattr(model, "norms", None)
    if not isinstance(convs, nn.ModuleList) or not getattr(model, "residual", False) \
            or len(convs) < 2:
        raise UserError("layer-lottery needs the core 'cnn' model with residual: true and "
                        "depth >= 2 (a stem and residual blocks)")
    return convs, norms


def block_parameters(model: nn.Module) -> list[list[nn.Parameter]]:
    """The parameters of each residual block (every conv after the stem, with its norm)."""
    convs, norms = residual_cnn(model)
    return [[*convs[i].parameters(), *(norms[i].parameters() if norms is not None else ())]
            for i in range(1, len(convs))]


def block_importance(model: nn.Module, loss_fn: Callable[[], torch.Tensor],
                     criterion: Criterion, generator: torch.Generator) -> torch.Tensor:
    """One number per residual block, lower = removed first.

    - ``grasp``: GraSP's score S = -theta * (H g) summed over the block; GraSP removes the
      highest scores (their removal keeps the gradient flow best), so importance is -S.
    - ``snip``: the connection sensitivity |theta * g| summed over the block.
    - ``random``: a uniform draw (a random ticket).
    """
    blocks = block_parameters(model)
    if criterion == "random":
        return torch.rand(len(blocks), generator=generator, dtype=torch.float64)
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss_fn(), params)
    if criterion == "snip":
        per_param = {id(p): (p * g).abs().sum() for p, g in zip(params, grads)}
    else:
        flat = torch.cat([g.reshape(-1) for g in grads]).detach().to(torch.float64)
        hg = hvp_operator(loss_fn, params)(flat)
        sizes = [p.numel() for p in params]
        # importance = -S = theta * (H g): the blocks GraSP would prune have the lowest
        per_param = {id(p): (p.detach().double().reshape(-1) * h).sum()
                     for p, h in zip(params, hg.split(sizes))}
    return torch.stack([sum(per_param[id(p)] for p in block).double().detach()
                        for block in blocks])


def remove_blocks(model: nn.Module, drop: set[int]) -> None:
    """Delete residual blocks ``drop`` (0 = the first block after the stem) in place."""
    convs, norms = residual_cnn(model)
    keep = [0] + [i + 1 for i in range(len(convs) - 1) if i not in drop]
    model.convs = nn.ModuleList(convs[i] for i in keep)
    if norms is not None:
        model.norms = nn.ModuleList(norms[i] for i in keep)


def channel_importance(model: nn.Module) -> torch.Tensor:
    """L1 norm of every channel's filters summed over all conv layers (the residual stream
    shares one channel set, so a filter ticket keeps the same channels everywhere)."""
    convs, _ = residual_cnn(model)
    return sum(c.weight.detach().abs().flatten(1).sum(1) for c in convs)


def keep_channels(model: nn.Module, keep: torch.Tensor) -> None:
    """Slice every conv, norm and the readout to the channels ``keep``, in place, keeping
    their initial values (new Parameter objects replace the old ones)."""
    convs, norms = residual_cnn(model)
    for i, conv in enumerate(convs):
        w = conv.weight.detach()[keep]
        conv.weight = nn.Parameter((w if i == 0 else w[:, keep]).clone())
        if conv.bias is not None:
            conv.bias = nn.Parameter(conv.bias.detach()[keep].clone())
        conv.out_channels, conv.in_channels = len(keep), conv.weight.shape[1]
    for norm in norms or ():
        norm.weight = nn.Parameter(norm.weight.detach()[keep].clone())
        norm.bias = nn.Parameter(norm.bias.detach()[keep].clone())
        norm.running_mean = norm.running_mean[keep].clone()
        norm.running_var = norm.running_var[keep].clone()
        norm.num_features = len(keep)
    readout = model.readout
    readout.weight = nn.Parameter(readout.weight.detach()[:, keep].clone())
    readout.in_features = len(keep)
    model.hidden_width = len(keep)


def conv_macs(model: nn.Module, example: torch.Tensor) -> float:
    """Multiply-accumulates of the model's convolutions for one example (one forward)."""
    total = 0.0

    def count(module: nn.Module, _: object, out: torch.Tensor) -> None:
        nonlocal total
        total += module.weight.numel() * out[0].numel() / out.shape[1]

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(example[:1])
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total
