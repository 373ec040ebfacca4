"""The coordinate check (arXiv:2203.03466, Sec. 6 and Fig. 5): mean |activation| of the input
layer, the last hidden layer and the logits, on one fixed batch, at initialisation and after a
few optimizer steps. Under muP these sizes, and their change, stay put as width grows; under
the standard parameterization the change of the logits grows with width.
"""
from __future__ import annotations

import torch
from torch import nn

ROLES = ("input", "hidden", "readout")


def probe_modules(model: nn.Module) -> dict[str, nn.Module] | None:
    """The module whose output stands for each role, or None for a model we cannot read.

    Input: the token embedding (transformer) or the first layer (mlp ``hidden[0]``, cnn
    ``convs[0]``), before its nonlinearity. Hidden: the last block or layer (for the
    transformer the last block, not ``ln_f``, whose output is normalised by construction).
    Readout: the logits.
    """
    readout = getattr(model, "readout", None)
    stack = next((getattr(model, n) for n in ("blocks", "hidden", "convs")
                  if isinstance(getattr(model, n, None), nn.ModuleList)), None)
    if not isinstance(readout, nn.Module) or stack is None or len(stack) == 0:
        return None
    embed = getattr(model, "embed", None)
    first = embed if isinstance(embed, nn.Module) else stack[0]
    return {"input": first, "hidden": stack[-1], "readout": readout}


@torch.no_grad()
def activations(model: nn.Module, modules: dict[str, nn.Module],
                x: torch.Tensor) -> dict[str, torch.Tensor]:
    """One forward pass in eval mode; each role's output (detached, float32)."""
    out: dict[str, torch.Tensor] = {}

    def keep(role: str):  # noqa: ANN202 - a forward hook
        return lambda module, args, y: out.__setitem__(role, y.detach().float().clone())

    handles = [m.register_forward_hook(keep(role)) for role, m in modules.items()]
    was_training = model.training
    try:
        model.eval()
        model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return out


class CoordCheck:
    """Snapshot at construction; ``record`` after each of the first steps; ``summary`` at the end.

    Sizes are means over every coordinate of the probe batch: ``|x_t|`` and the change
    ``|x_t - x_0|``. The summary keeps the largest value over the recorded steps, because a
    blow-up can be transient (under SP with Adam the logits jump at step 1 and may fall back
    by step 5), and the per-step values:

    ``coord/<role>_init`` = mean |x_0|; ``coord/<role>`` = max_t mean |x_t|;
    ``coord/<role>_delta`` = max_t mean |x_t - x_0|; ``coord/step<t>/<role>_delta``;
    for role in input, hidden, readout.
    """

    def __init__(self, model: nn.Module, modules: dict[str, nn.Module], x: torch.Tensor) -> None:
        self.modules, self.x = modules, x
        self.start = activations(model, modules, x)
        self.steps: dict[int, dict[str, tuple[float, float]]] = {}

    def record(self, model: nn.Module, step: int) -> None:
        now = activations(model, self.modules, self.x)
        self.steps[step] = {role: (float(now[role].abs().mean()),
                                   float((now[role] - self.start[role]).abs().mean()))
                            for role in ROLES if role in now and role in self.start}

    def summary(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for role in ROLES:
            rows = [(t, sizes[role]) for t, sizes in sorted(self.steps.items()) if role in sizes]
            if role not in self.start or not rows:
                continue
            out[f"coord/{role}_init"] = float(self.start[role].abs().mean())
            out[f"coord/{role}"] = max(size for _, (size, _) in rows)
            out[f"coord/{role}_delta"] = max(delta for _, (_, delta) in rows)
            out.update({f"coord/step{t}/{role}_delta": delta for t, (_, delta) in rows})
        return out
