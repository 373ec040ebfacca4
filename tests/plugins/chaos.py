"""A fixture plugin for failure tests: an SGD whose behaviour a sweep can turn bad."""
from __future__ import annotations

import time
from typing import Any, Literal

import torch
from pydantic import Field

from assay import Config, Optimizer, hookimpl


class ChaosConfig(Config):
    lr: float = Field(0.05, gt=0, description="Learning rate")
    mode: Literal["ok", "raise", "nan", "slow"] = Field("ok", description="What goes wrong")
    sleep_s: float = Field(0.05, ge=0, description="Per-step sleep in slow mode")


class ChaosSGD(torch.optim.SGD):
    def __init__(self, params: Any, lr: float, mode: str, sleep_s: float) -> None:
        super().__init__(params, lr=lr)
        self.mode, self.sleep_s, self.n = mode, sleep_s, 0

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        self.n += 1
        if self.mode == "raise" and self.n == 5:
            raise RuntimeError("chaos: deliberate failure at step 5")
        if self.mode == "nan" and self.n == 5:
            for group in self.param_groups:
                for p in group["params"]:
                    p.fill_(float("nan"))
            return None
        if self.mode == "slow":
            time.sleep(self.sleep_s)
        return super().step(closure)


class Chaos(Optimizer):
    """SGD that can raise, turn weights NaN, or run slowly (for failure tests)."""

    name = "chaos"
    Config = ChaosConfig

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        c = self.config
        return ChaosSGD([g["params"] for g in param_groups][0], c.lr, c.mode, c.sleep_s)


@hookimpl
def assay_register_methods() -> list[Any]:
    return [Chaos]
