"""Filter scores on a plain conv net (conv -> ReLU ... -> global average pool -> readout):
LRP relevance, first-order Taylor, L1 norm and random.

LRP (Bach et al., 2015) redistributes the target logit backwards, layer by layer, in proportion
to each input's contribution z_ij = a_i w_ij to the layer's output z_j:

    R_i = sum_j  a_i w_ij / (z_j + eps * sign(z_j)) * R_j          (LRP-epsilon)
    R_i = sum_j  a_i w_ij^+ / sum_i' a_i' w_i'j^+ * R_j             (LRP-z+, alpha1-beta0)

ReLUs pass relevance through unchanged. One rule step is computed with autograd (the standard
trick): with s = R_out / z held constant, the gradient of sum(z * s) with respect to the input
is sum_j w_ij s_j, and R_in = a * that gradient. A filter's relevance is the relevance that
reaches its output map, summed over positions.

Written for the builtin ``cnn`` (attributes ``convs``, ``readout``; no norm, no residual):
captum's LRP needs every operation as a module and the builtin applies ReLU and the pooling
functionally, so the rules are applied here by hand (tests compare them with captum on a
module-only copy of the net, and with the dense-matrix formula).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from assay import UserError
from torch import nn

from .config import ConvRule

CONV_FN = {1: F.conv1d, 2: F.conv2d}


def check_plain_cnn(model: nn.Module) -> None:
    """Refuse nets whose forward the scores below do not reproduce."""
    convs = getattr(model, "convs", None)
    if convs is None or not hasattr(model, "readout"):
        raise UserError("lrp-filter-pruning needs the builtin 'cnn' model (convs + readout)")
    if getattr(model, "norms", None) is not None or getattr(model, "residual", False):
        raise UserError("lrp-filter-pruning supports the 'cnn' model without norm and residual")


def forward_acts(model: nn.Module, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The inputs of every conv layer plus the last conv's output (post-ReLU), and the logits:
    the builtin cnn's forward, step by step."""
    h = x.unsqueeze(1) if getattr(model, "unsqueeze", False) else x
    acts = [h]
    for conv in model.convs:
        h = F.relu(conv(h))
        acts.append(h)
    return acts, model.readout(h.flatten(2).mean(2))


def stabilise(z: torch.Tensor, eps: float) -> torch.Tensor:
    return z + eps * torch.where(z >= 0, 1.0, -1.0)


def rule_step(layer, a: torch.Tensor, r_out: torch.Tensor, eps: float) -> torch.Tensor:
    """Relevance at the input ``a`` of ``layer`` (a linear map, possibly with a bias) from the
    relevance ``r_out`` at its output, by the epsilon rule on the map ``layer`` computes."""
    a = a.detach().requires_grad_(True)
    z = layer(a)
    s = (r_out / stabilise(z, eps)).detach()
    (grad,) = torch.autograd.grad((z * s).sum(), a)
    return (a * grad).detach()


def conv_map(conv: nn.Module, rule: ConvRule):
    """The linear map the rule redistributes through: the conv itself (epsilon) or its positive
    weights without bias (z+)."""
    if rule == "epsilon":
        return conv
    fn = CONV_FN[conv.weight.dim() - 2]
    w = conv.weight.detach().clamp(min=0)
    return lambda a: fn(a, w, None, conv.stride, conv.padding, conv.dilation, conv.groups)


def lrp_filter_relevance(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float = 1e-6,
                         conv_rule: ConvRule = "zplus") -> list[torch.Tensor]:
    """Per conv layer, the (B, channels) relevance of each filter's output map for the logit of
    class ``y`` of each example: epsilon at the readout and the pooling, ``conv_rule`` through
    the conv layers above the one scored."""
    check_plain_cnn(model)
    with torch.no_grad():
        acts, logits = forward_acts(model, x)
    r = torch.zeros_like(logits)
    r[torch.arange(len(y)), y] = logits[torch.arange(len(y)), y]
    pooled_in = acts[-1]
    r = rule_step(model.readout, pooled_in.flatten(2).mean(2), r, eps)         # (B, C)
    r = rule_step(lambda a: a.flatten(2).mean(2), pooled_in, r, eps)           # (B, C, ...)
    out = [r.flatten(2).sum(2)]
    for i in range(len(model.convs) - 1, 0, -1):
        r = rule_step(conv_map(model.convs[i], conv_rule), acts[i], r, eps)
        out.append(r.flatten(2).sum(2))
    return out[::-1]


def taylor_filter_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """Molchanov et al.'s first-order Taylor criterion per filter: |mean over positions of
    activation x d(loss)/d(activation)| per example, averaged over the examples."""
    check_plain_cnn(model)
    h = x.unsqueeze(1) if getattr(model, "unsqueeze", False) else x
    maps = []
    for conv in model.convs:
        h = F.relu(conv(h))
        maps.append(h)
    loss = F.cross_entropy(model.readout(h.flatten(2).mean(2)), y, reduction="sum")
    grads = torch.autograd.grad(loss, maps)
    return [(a.detach() * g).flatten(2).mean(2).abs().mean(0) for a, g in zip(maps, grads)]


def l1_filter_scores(model: nn.Module) -> list[torch.Tensor]:
    """Sum of |w| of each filter's kernel (Li et al., 2017)."""
    check_plain_cnn(model)
    return [conv.weight.detach().abs().flatten(1).sum(1) for conv in model.convs]
