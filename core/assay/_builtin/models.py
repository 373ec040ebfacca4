"""Built-in models. Each exposes ``readout`` (the output layer) and ``hidden_width`` so that
parameterizations such as muP can find what they rescale."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from assay._builtin.configs import CNNConfig, LinearConfig, MLPConfig, TransformerConfig
from assay.errors import UserError
from assay.kinds import Data, Model

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


class MLPNet(nn.Module):
    def __init__(self, n_in: int, n_out: int, c: MLPConfig) -> None:
        super().__init__()
        dims = [n_in] + [c.width] * c.depth
        self.hidden = nn.ModuleList(nn.Linear(a, b, bias=c.bias) for a, b in zip(dims, dims[1:]))
        self.act = ACTIVATIONS[c.activation]()
        self.readout = nn.Linear(c.width, n_out, bias=c.bias)
        self.hidden_width = c.width

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)                    # (B, n_in)
        for layer in self.hidden:
            h = self.act(layer(h))          # (B, width)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x))


class MLP(Model):
    """Fully connected network on flattened inputs."""

    name = "mlp"
    Config = MLPConfig

    def build(self, data: Data) -> nn.Module:
        if data.task == "lm":
            raise UserError("model 'mlp' does not take token sequences; use 'transformer'")
        return MLPNet(math.prod(data.input_shape), data.n_outputs, self.config)


class CNNNet(nn.Module):
    def __init__(self, shape: tuple[int, ...], n_out: int, c: CNNConfig) -> None:
        super().__init__()
        conv = nn.Conv2d if len(shape) == 3 else nn.Conv1d
        in_ch = shape[0] if len(shape) in (2, 3) else 1
        self.unsqueeze = len(shape) == 1              # (B, L) -> (B, 1, L)
        chans = [in_ch] + [c.channels] * c.depth
        self.convs = nn.ModuleList(conv(a, b, c.kernel_size, padding=c.kernel_size // 2)
                                   for a, b in zip(chans, chans[1:]))
        norm = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
        self.norms = (nn.ModuleList(norm(c.channels) for _ in range(c.depth))
                      if c.norm == "batch" else None)
        self.residual = c.residual
        self.readout = nn.Linear(c.channels, n_out)
        self.hidden_width = c.channels

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(1) if self.unsqueeze else x
        for i, conv in enumerate(self.convs):
            out = conv(h)
            if self.norms is not None:
                out = self.norms[i](out)
            out = F.relu(out)
            h = h + out if self.residual and i > 0 else out
        return h.flatten(2).mean(2)                   # global average pool: (B, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x))


class CNN(Model):
    """Small convolutional network (2-D for image inputs, 1-D for sequences)."""

    name = "cnn"
    Config = CNNConfig

    def build(self, data: Data) -> nn.Module:
        if data.task == "lm" or len(data.input_shape) > 3:
            raise UserError(f"model 'cnn' cannot take inputs of shape {data.input_shape}")
        return CNNNet(data.input_shape, data.n_outputs, self.config)


class LinearNet(nn.Module):
    def __init__(self, n_in: int, n_out: int, c: LinearConfig) -> None:
        super().__init__()
        self.readout = nn.Linear(n_in, n_out, bias=c.bias)
        self.hidden_width = n_in
        if c.init == "zeros":
            nn.init.zeros_(self.readout.weight)
            if self.readout.bias is not None:
                nn.init.zeros_(self.readout.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x))


class Linear(Model):
    """One linear layer on flattened inputs: logistic (softmax) or linear regression."""

    name = "linear"
    Config = LinearConfig

    def build(self, data: Data) -> nn.Module:
        if data.task == "lm":
            raise UserError("model 'linear' does not take token sequences; use 'transformer'")
        return LinearNet(math.prod(data.input_shape), data.n_outputs, self.config)


class Block(nn.Module):
    def __init__(self, c: TransformerConfig) -> None:
        super().__init__()
        self.n_heads = c.n_heads
        self.ln1, self.ln2 = nn.LayerNorm(c.width), nn.LayerNorm(c.width)
        self.qkv = nn.Linear(c.width, 3 * c.width)
        self.proj = nn.Linear(c.width, c.width)
        self.mlp = nn.Sequential(nn.Linear(c.width, 4 * c.width), nn.GELU(),
                                 nn.Linear(4 * c.width, c.width))
        self.dropout = c.dropout
        self.attn_scale: float | None = None          # None: 1/sqrt(head dim); muP sets 1/dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)
                   for t in (q, k, v))                # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.attn_scale,
                                           dropout_p=self.dropout if self.training else 0.0)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp(self.ln2(x))


class TransformerLM(nn.Module):
    def __init__(self, vocab: int, block_size: int, c: TransformerConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, c.width)
        self.pos = nn.Embedding(block_size, c.width)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.depth))
        self.ln_f = nn.LayerNorm(c.width)
        self.readout = nn.Linear(c.width, vocab, bias=False)
        self.hidden_width = c.width

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        h = self.embed(idx) + self.pos(torch.arange(T, device=idx.device))  # (B, T, C)
        for block in self.blocks:
            h = block(h)
        return self.ln_f(h)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(idx))    # (B, T, vocab)


class Transformer(Model):
    """A small GPT-style causal language model (pre-norm blocks, learned positions)."""

    name = "transformer"
    Config = TransformerConfig

    def build(self, data: Data) -> nn.Module:
        c = self.config
        if data.task != "lm":
            raise UserError("model 'transformer' needs a language-modelling dataset (e.g. bytes)")
        if c.width % c.n_heads:
            raise UserError(f"model.n_heads={c.n_heads} must divide model.width={c.width}")
        return TransformerLM(data.n_outputs, data.input_shape[0], c)


MODELS = [MLP, CNN, Linear, Transformer]
