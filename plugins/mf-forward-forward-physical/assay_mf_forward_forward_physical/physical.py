"""A simulated deep physical neural network: fixed optical-like layers between trainable
digital ones (the setting of Momeni et al., arXiv:2304.11042, with the physics simulated).

The physical layer is a fixed random scattering medium read by a camera: a complex Gaussian
transmission matrix W (out, in) and intensity detection, ``y = |W x|^2``, each reading
multiplied by ``1 + noise * N(0, 1)`` (2% by default: detector and source fluctuations). How
the network may learn through it is the point of the paper, so the layer runs in one of
three ways (``physics``):

- ``black-box``: the real device. It runs under ``torch.no_grad``: no gradient can pass, so a
  method that trains through it must be model-free;
- ``exact``: a perfect, differentiable simulator of the same device (the same W, the same
  noise draws): backpropagation through it is the upper bound the paper compares with;
- ``twin``: physics-aware training (Wright et al. 2022): the forward pass is the device's, the
  backward pass a digital twin's, whose matrix differs from W by ``twin_mismatch`` (relative
  Frobenius error, 10% by default).

Every backward pass through a physical layer adds one to its ``grad_queries`` (a tensor hook
on the layer's output): the number of times training needed the device's derivative.

The network (in the order of the official code, github.com/MomeniAli/PhyLL): the input, with
the label appended (zeros when the readout is linear), is normalised to unit mean power and
sent through physical layer 1; a digital linear layer maps the camera image to the next
input; and so on for ``blocks`` blocks. ``readout: goodness`` scores each label by the
forward-forward goodness summed over the digital outputs (:mod:`.ff`); ``readout: linear``
adds a trainable linear classifier on the last digital output (for backpropagation).
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from assay import Data, Model, Paper, UserError
from torch import nn

from assay_mf_forward_forward_physical.config import GoodnessKind, PhysicalNetConfig, Physics

from .ff import embed_label, goodness, predict_scores, random_direction

PAPER = Paper(title="Backpropagation-free Training of Deep Physical Neural Networks",
              arxiv="2304.11042", year=2023)


def unit_power(h: torch.Tensor) -> torch.Tensor:
    """Each row scaled to mean square 1: the power a source can put into the device."""
    return h / h.pow(2).mean(1, keepdim=True).add(1e-12).sqrt()


class PhysicalLayer(nn.Module):
    """``x -> |W x|^2 * (1 + noise * eps)``, W complex Gaussian with E|W x|^2 = mean(x^2)."""

    def __init__(self, n_in: int, n_out: int, noise: float, physics: Physics,
                 twin_mismatch: float) -> None:
        super().__init__()
        std = 1 / math.sqrt(2 * n_in)
        # not in the state dict: the device is fixed hardware, not a trained weight
        self.register_buffer("w_re", torch.randn(n_out, n_in) * std, persistent=False)
        self.register_buffer("w_im", torch.randn(n_out, n_in) * std, persistent=False)
        err = twin_mismatch / math.sqrt(2)   # per part, so ||W_twin - W||_F ~ mismatch ||W||_F
        self.register_buffer("t_re", self.w_re + torch.randn(n_out, n_in) * std * err,
                             persistent=False)
        self.register_buffer("t_im", self.w_im + torch.randn(n_out, n_in) * std * err,
                             persistent=False)
        self.noise, self.physics = noise, physics
        self.grad_queries = 0

    @staticmethod
    def intensity(x: torch.Tensor, re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
        return (x @ re.t()).pow(2) + (x @ im.t()).pow(2)

    def _count(self, grad: torch.Tensor) -> None:
        self.grad_queries += 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gain = 1 + self.noise * torch.randn(x.shape[0], self.w_re.shape[0], device=x.device)
        if self.physics == "black-box":
            with torch.no_grad():
                return self.intensity(x, self.w_re, self.w_im) * gain
        if self.physics == "exact":
            y = self.intensity(x, self.w_re, self.w_im) * gain
        else:   # twin: the device's reading forward, the twin's derivative backward
            twin = self.intensity(x, self.t_re, self.t_im)
            with torch.no_grad():
                real = self.intensity(x, self.w_re, self.w_im) * gain
            y = real + (twin - twin.detach())
        if y.requires_grad:
            y.register_hook(self._count)
        return y


class PhysicalNet(nn.Module):
    """``blocks`` x [physical layer -> digital linear layer], read out by goodness or a
    linear classifier."""

    def __init__(self, n_in: int, n_classes: int, c: PhysicalNetConfig) -> None:
        super().__init__()
        self.n_classes, self.label_scale = n_classes, c.label_scale
        self.readout_kind, self.goodness_kind, self.theta = c.readout, c.goodness, c.theta
        dims = [n_in + n_classes] + [c.width] * c.blocks
        self.physical = nn.ModuleList(
            PhysicalLayer(a, c.width, c.noise, c.physics, c.twin_mismatch) for a in dims[:-1])
        self.digital = nn.ModuleList(nn.Linear(c.width, c.width) for _ in range(c.blocks))
        for k in range(c.blocks):
            self.register_buffer(f"direction_{k}", random_direction(c.width), persistent=False)
        self.readout = nn.Linear(c.width, n_classes) if c.readout == "linear" else None

    @property
    def grad_queries(self) -> int:
        """Backward passes through any physical layer so far."""
        return sum(p.grad_queries for p in self.physical)

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return embed_label(x, labels, self.n_classes, self.label_scale)

    def measure(self, k: int, h: torch.Tensor) -> torch.Tensor:
        """Physical layer ``k``'s camera image of the input ``h`` (sent at unit power)."""
        return self.physical[k](unit_power(h))

    def block(self, k: int, h: torch.Tensor) -> torch.Tensor:
        return self.digital[k](self.measure(k, h))

    def layer_goodness(self, k: int, out: torch.Tensor) -> torch.Tensor:
        return goodness(out, self.goodness_kind, getattr(self, f"direction_{k}"))

    def total_goodness(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h, total = self.encode(x, labels), 0.0
        for k in range(len(self.digital)):
            h = self.block(k, h)
            total = total + self.layer_goodness(k, h)
        return total

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.readout is not None:
            h = self.encode(x, None)
            for k in range(len(self.digital)):
                h = self.block(k, h)
            return self.readout(h)
        # theta times the summed goodness: the logits of the pairwise loss's scale
        return self.theta * predict_scores(self.total_goodness, x, self.n_classes)


class PhysicalNetModel(Model):
    """A deep physical neural network with simulated optical layers."""

    name = "physical-net"
    Config = PhysicalNetConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "dataset": {"name": "digits", "n_train": 256},
        "model": {"name": "physical-net", "width": 32},
        "methods": {"optimizer": {"name": "adamw", "lr": 1e-2}},
        "train": {"steps": 30, "batch_size": 64}}

    def build(self, data: Data) -> nn.Module:
        if data.task != "classification":
            raise UserError(f"model physical-net classifies; the dataset's task is {data.task}")
        return PhysicalNet(math.prod(data.input_shape), data.n_outputs, self.config)
