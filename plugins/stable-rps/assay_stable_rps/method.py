"""STABLE-RPS: every linear weight of the model read from one shared trainable array.

Randomized parameter sharing (RPS; Desai & Shrivastava, ICLR 2024) keeps one array ``a`` of
``m = compression * n`` floats for the ``n`` weights of all linear layers. Weight ``i`` (its
global position over the layers, in order) is

    w_i = s_l(i) * g_i * a[h(i)]          g_i = +-1 (random),  s_l = std(W_l at init) / sigma

where ``sigma`` is the array's initial standard deviation and ``s_l`` restores layer ``l``'s own
initial scale, so memory is ``m`` floats whatever the layer shapes. Biases stay dense.

Two mappings ``h``:

- ``randomfold`` (STABLE-RPS's RANDOMFOLD): the global positions are cut into chunks of
  ``m`` consecutive weights; chunk ``c`` is laid onto the array cyclically from a random
  offset ``r_c``: ``h(i) = (r_{i // m} + i mod m) mod m``. Every slot is used by ``ceil`` or
  ``floor`` of ``n / m`` weights, and at ``m = n`` (1x) there is one chunk, so ``h`` is a
  bijection: the model is the dense model, re-indexed (Pareto-continuity).
- ``roast`` (ROAST, the method the paper fixes): chunks of ``block`` consecutive weights are
  each placed at an independent random offset in ``[0, m - block]``. Chunks collide even at
  ``m = n``, so 1x is not the dense model.

Gradient scaling (STABLE-RPS): the array's gradient is divided, slot by slot, by
``sum_{i: h(i)=j} s_l(i)^2``. That is the least-squares projection of the dense update onto the
shared space (``S^T S`` is diagonal for a one-slot-per-weight map), and it makes SGD on ``a`` at
1x move every weight exactly as dense SGD would, whatever ``sigma``: the fix for ROAST's
sensitivity to the init scale. Under Adam a fixed per-slot factor is normalised away (only
``s_l`` remains as a per-layer learning-rate factor), which is why the claims do not test it.

Hashing and scaling follow the authors' public code (github.com/apd10/FakeRoast: the
``ParetoCyclicMapper``, which is the paper's RANDOMFOLD, the ``v5`` gradient scaler and
``ROAST_INIT = 0.04``), written anew.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import Data, Paper, Parameterization, UserError
from torch import nn

from assay_stable_rps.config import Mapping, StableRPSConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="In defense of parameter sharing for model-compression (ICLR 2024)",
              arxiv="2310.11611", year=2023)

SMALL = {"dataset": {"name": "mnist1d", "n_train": 256, "n_val": 128},
         "model": {"name": "mlp", "width": 32, "depth": 2}}


def memory_size(n: int, compression: float) -> int:
    """Slots of the shared array for ``n`` weights at ``compression`` (at least one)."""
    return min(n, max(1, round(compression * n)))


def randomfold_index(n: int, m: int, gen: torch.Generator) -> torch.Tensor:
    """STABLE-RPS's map: chunk ``c`` of ``m`` consecutive positions starts at slot ``r_c``."""
    pos = torch.arange(n)
    offsets = torch.randint(0, m, ((n + m - 1) // m,), generator=gen)
    return (offsets[pos // m] + pos % m) % m


def roast_index(n: int, m: int, block: int, gen: torch.Generator) -> torch.Tensor:
    """ROAST's map: chunk ``c`` of ``block`` positions starts at a random slot in [0, m-block]."""
    block = min(block, m)
    pos = torch.arange(n)
    starts = torch.randint(0, m - block + 1, ((n + block - 1) // block,), generator=gen)
    return starts[pos // block] + pos % block


def linear_layers(model: nn.Module, readout: bool) -> list[nn.Linear]:
    """The ``nn.Linear`` layers to share, in module order (the readout only on request)."""
    skip = None if readout else getattr(model, "readout", None)
    layers = [m for m in model.modules() if isinstance(m, nn.Linear) and m is not skip]
    if not layers:
        raise UserError("parameterization 'stable-rps' found no nn.Linear layer to share")
    if any(isinstance(m, nn.Conv1d | nn.Conv2d | nn.Embedding) for m in model.modules()):
        raise UserError("parameterization 'stable-rps' shares Linear layers only (mlp, linear)")
    return layers


class SharedArray(nn.Module):
    """The shared array ``a`` and the fixed map: slot ``idx[i]``, sign ``sign[i]`` and layer
    scale ``scale[i]`` of every weight ``i`` (buffers, not trained)."""

    def __init__(self, idx: torch.Tensor, sign: torch.Tensor, scale: torch.Tensor, m: int,
                 init_std: float, grad_scale: bool) -> None:
        super().__init__()
        self.array = nn.Parameter(torch.randn(m) * init_std)
        self.register_buffer("idx", idx)
        self.register_buffer("sign", sign)
        self.register_buffer("scale", scale)
        denom = torch.zeros(m).scatter_add_(0, idx, scale ** 2)
        self.register_buffer("grad_denom", denom.clamp_min(1e-12))   # unused slots: grad 0
        self.grad_scale = grad_scale
        self.array.register_hook(self._scale_grad)

    def _scale_grad(self, grad: torch.Tensor) -> torch.Tensor:
        return grad / self.grad_denom if self.grad_scale else grad

    def weights(self, start: int, stop: int) -> torch.Tensor:
        """Weights ``start:stop`` (flat): ``scale * sign * array[idx]``."""
        sl = slice(start, stop)
        return self.scale[sl] * self.sign[sl] * self.array[self.idx[sl]]


class ReadWeight:
    """Forward pre-hook of one layer: set its ``weight`` from the shared array."""

    def __init__(self, shared: SharedArray, start: int, shape: torch.Size) -> None:
        self.shared, self.start, self.shape = shared, start, shape

    def __call__(self, module: nn.Module, inputs: Any) -> None:
        stop = self.start + self.shape.numel()
        module.weight = self.shared.weights(self.start, stop).view(self.shape)


def share(model: nn.Module, compression: float, mapping: Mapping = "randomfold", block: int = 32,
          init_std: float = 0.04, grad_scale: bool = True, readout: bool = True,
          gen: torch.Generator | None = None) -> SharedArray:
    """Replace the weights of ``model``'s linear layers by reads from one shared array
    (registered as ``model.rps``); returns it."""
    layers = linear_layers(model, readout)
    n = sum(layer.weight.numel() for layer in layers)
    m = memory_size(n, compression)
    gen = gen or torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,))))
    idx = randomfold_index(n, m, gen) if mapping == "randomfold" else roast_index(n, m, block, gen)
    sign = torch.randint(0, 2, (n,), generator=gen).float() * 2 - 1
    scale = torch.cat([torch.full((layer.weight.numel(),), layer.weight.detach().std().item()
                                  / init_std) for layer in layers])
    shared = SharedArray(idx, sign, scale, m, init_std, grad_scale)
    model.add_module("rps", shared)
    start = 0
    for layer in layers:
        shape = layer.weight.shape
        del layer.weight                     # the dense weight is no longer stored
        read = ReadWeight(shared, start, shape)
        layer.register_forward_pre_hook(read)
        with torch.no_grad():                # a value before the first forward, for readers
            read(layer, ())
        start += shape.numel()
    return shared


class StableRPS(Parameterization):
    """STABLE-RPS (or ROAST with ``mapping: roast, grad_scale: false``) on every Linear."""

    name = "stable-rps"
    Config = StableRPSConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        **SMALL, "methods": {"parameterization": {"name": "stable-rps", "compression": 0.25}}}

    def apply(self, model: nn.Module, data: Data) -> list[dict[str, Any]]:
        c = self.config
        self.shared = share(model, c.compression, c.mapping, c.block, c.init_std,
                            c.grad_scale, c.readout)
        return [{"params": [p for p in model.parameters() if p.requires_grad]}]

    def after_train(self, ctx: RunContext) -> None:
        s = self.shared
        ctx.final_metrics.update({"rps/array_size": float(s.array.numel()),
                                  "rps/shared_weights": float(s.idx.numel()),
                                  "rps/compression": s.array.numel() / s.idx.numel()})
