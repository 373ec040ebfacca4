"""muP, the maximal-update parameterization, for the core mlp, cnn and transformer models.

Papers: Yang & Hu, arXiv:2011.14522 (the feature-learning limit, Sec. 5 and Table 1); the
practical per-layer rules we implement are Table 3 of Yang et al., arXiv:2203.03466 ("Tensor
Programs V"), in its "output multiplier" form (their Table 9, the form the authors' ``mup``
package uses). With ``m = width / base_width`` every width-sized dimension grows by ``m``:

parameter role   example                          init                  Adam lr   SGD lr
input            mlp hidden[0].weight, embedding  unchanged (SP)        1         m
vector           biases, LayerNorm of size width  base-width scale      1         m
hidden           width x width matrices           unchanged (SP)        1/m       1
readout          readout.weight                   base-width scale;     1         m
                                                  forward input x 1/m
fixed            readout.bias (no width dim)      base-width scale      1         1

- "unchanged (SP)": torch's default init already has std proportional to 1/sqrt(fan_in).
- "base-width scale": biases whose fan_in is width-sized, and the readout weight and bias,
  are multiplied by sqrt(m), so their init distribution is the one they have at base width
  (torch draws them with std proportional to 1/sqrt(fan_in)).
- readout: the layer is swapped for :class:`MuReadout`, which multiplies its input by
  ``output_mult / m``; with the base-width init this gives the effective init variance
  ~1/fan_in^2 of Table 3. ``readout_zero_init`` zeroes its weight and bias instead.
- weight decay: ``wd_mult = 1 / lr_mult`` so that the per-step decay lr * wd does not change
  with width (as the ``mup`` package does for torch's AdamW and SGD).
- attention (transformer): ``attn_scale = sqrt(d_base) / d`` with d the head dimension and
  d_base the head dimension at base width: 1/d scaling, equal to 1/sqrt(d) at base width.

At ``width == base_width`` (m = 1, output_mult = 1) every rule is the identity: muP is the
standard parameterization there, so a learning rate tuned on the base model is the one muP
transfers to wider models.
"""
from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from assay import Paper, Parameterization, UserError
from torch import nn

from assay_mup.config import MupConfig, MupSPConfig

from ._coord import CoordCheck, probe_modules

if TYPE_CHECKING:
    from assay import Data, RunContext

PAPER = Paper(title="Feature Learning in Infinite-Width Neural Networks", arxiv="2011.14522",
              year=2020)

ROLES = ("input", "vector", "hidden", "readout", "fixed")
# lr multiplier of each role, as a power of m = width / base_width (Table 3, arXiv:2203.03466)
LR_POWER = {
    "adam": {"input": 0, "vector": 0, "hidden": -1, "readout": 0, "fixed": 0},
    "sgd": {"input": 1, "vector": 1, "hidden": 0, "readout": 1, "fixed": 0},
}


class MuReadout(nn.Linear):
    """The readout with muP's output multiplier: ``W (mult * x) + b``, mult = output_mult / m.

    Takes over the parameters of the ``nn.Linear`` it replaces (no new random draws), so
    ``state_dict`` keys and values are those of the original layer.
    """

    def __init__(self, source: nn.Linear, mult: float) -> None:
        nn.Module.__init__(self)
        self.in_features, self.out_features = source.in_features, source.out_features
        self.register_parameter("weight", source.weight)
        self.register_parameter("bias", source.bias)
        self.mult = mult

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x * self.mult, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mult={self.mult:.4g}"


class Mup(Parameterization):
    """muP (maximal-update parameterization), output-multiplier form."""

    name = "mup"
    Config = MupConfig
    paper = PAPER
    scales_with_width: ClassVar[bool] = True
    _coord: CoordCheck | None = None

    def width_mult(self, model: nn.Module) -> float:
        width = _width(model, self.name)
        return width / self.config.base_width if self.scales_with_width else 1.0

    def apply(self, model: nn.Module, data: Data) -> list[dict[str, Any]]:
        c, m = self.config, self.width_mult(model)
        roles = classify(model, self.name)
        with torch.no_grad():
            _rescale_init(model, roles, m, c.readout_zero_init)
        mult = c.output_mult / m
        if mult != 1.0:
            model.readout = MuReadout(model.readout, mult)
        _set_attention_scale(model, _width(model, self.name), m)
        power = LR_POWER[c.optimizer_kind]
        groups = [{"params": [p for _, p in roles[r]], "lr_mult": m ** power[r],
                   "wd_mult": m ** -power[r], "role": r} for r in ROLES]
        return merge_groups(groups)

    def setup(self, ctx: RunContext) -> None:
        opt = ctx.methods.get("optimizer")
        is_sgd = opt is not None and opt.name == "sgd"
        if self.scales_with_width and is_sgd != (self.config.optimizer_kind == "sgd"):
            warnings.warn(f"{self.name}: optimizer_kind={self.config.optimizer_kind!r} but the "
                          f"optimizer is {opt.name if opt else 'adamw'!r}", stacklevel=2)
        # the coordinate check: snapshot now, record after each of the first coord_steps
        self._coord, modules = None, probe_modules(ctx.model)
        if self.config.coord_steps and modules is not None:
            x = ctx.data.train[0][:self.config.coord_batch].to(ctx.device)
            self._coord = CoordCheck(ctx.model, modules, x)

    def after_step(self, ctx: RunContext, step: int) -> None:
        if self._coord is None:
            return
        self._coord.record(ctx.model, step)
        if step >= min(self.config.coord_steps, ctx.total_steps):
            ctx.final_metrics.update(self._coord.summary())
            self._coord = None


class MupSP(Mup):
    """Standard parameterization: muP's rules with the width multiplier frozen at 1.

    With the defaults (output_mult 1, no zero init) it leaves the model untouched and returns
    one group with ``lr_mult`` 1. The coordinate check (coord/*) runs as for ``mup``.
    """

    name = "mup-sp"
    Config = MupSPConfig
    scales_with_width = False


# --- which parameter plays which role --------------------------------------------------------

def _width(model: nn.Module, who: str) -> int:
    width = getattr(model, "hidden_width", None)
    if not isinstance(getattr(model, "readout", None), nn.Linear) or not isinstance(width, int):
        raise UserError(f"parameterization {who!r} needs a model exposing `readout` (an "
                        f"nn.Linear) and `hidden_width` (core mlp, cnn and transformer do); "
                        f"got {type(model).__name__}")
    return width


def _input_modules(model: nn.Module) -> list[nn.Module]:
    """Layers mapping a fixed-size input to width: embeddings and the first layer."""
    found = [mod for mod in model.modules() if isinstance(mod, nn.Embedding)]
    for stack in ("hidden", "convs"):
        layers = getattr(model, stack, None)
        if isinstance(layers, nn.ModuleList) and len(layers):
            found.append(layers[0])
    return found


def classify(model: nn.Module, who: str = "mup") -> dict[str, list[tuple[nn.Module, nn.Parameter]]]:
    """role -> [(owning module, parameter)] for every trainable parameter, each once."""
    width, readout = _width(model, who), model.readout
    inputs = {id(mod) for mod in _input_modules(model)}
    roles: dict[str, list[tuple[nn.Module, nn.Parameter]]] = {r: [] for r in ROLES}
    seen: set[int] = set()
    for mname, mod in model.named_modules():
        for pname, p in mod.named_parameters(recurse=False):
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            if mod is readout:
                role = "readout" if pname == "weight" else "fixed"
            elif p.ndim <= 1:
                role = "vector"
            elif id(mod) in inputs:
                role = "input"
            elif isinstance(mod, (nn.Linear, nn.modules.conv._ConvNd)) and p.shape[1] % width == 0:
                role = "hidden"
            else:
                raise UserError(f"{who}: cannot tell how parameter {mname}.{pname} "
                                f"{tuple(p.shape)} scales with width {width}")
            roles[role].append((mod, p))
    return roles


def _rescale_init(model: nn.Module, roles: dict[str, list[tuple[nn.Module, nn.Parameter]]],
                  m: float, zero_readout: bool) -> None:
    """Give width-fan_in biases and the readout their base-width init scale (x sqrt(m))."""
    hidden_layers = {id(mod) for mod, _ in roles["hidden"]}
    for mod, p in roles["vector"]:
        if id(mod) in hidden_layers and p is getattr(mod, "bias", None):
            p.mul_(math.sqrt(m))
    for _, p in roles["readout"] + roles["fixed"]:
        if zero_readout:
            p.zero_()
        else:
            p.mul_(math.sqrt(m))


def _set_attention_scale(model: nn.Module, width: int, m: float) -> None:
    """1/d attention, anchored so that it is torch's 1/sqrt(d) at base width."""
    if m == 1.0:
        return
    for block in model.modules():
        if hasattr(block, "attn_scale") and hasattr(block, "n_heads"):
            head_dim = width / block.n_heads
            block.attn_scale = math.sqrt(head_dim / m) / head_dim


def merge_groups(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join groups with equal multipliers; drop empty ones."""
    out: dict[tuple[float, float], dict[str, Any]] = {}
    for g in groups:
        if not g["params"]:
            continue
        key = (g["lr_mult"], g["wd_mult"])
        if key in out:
            out[key]["params"] = out[key]["params"] + g["params"]
            out[key]["role"] += "+" + g["role"]
        else:
            out[key] = dict(g)
    return list(out.values())

