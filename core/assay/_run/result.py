"""What a run gives back, and the two exceptions it may end with: plain data, no torch.

The sweep driver reads results (and tells Optuna about them) without training anything, so
these live apart from ``context`` (the run as a method sees it, built on torch): a driver
whose workers train imports neither torch nor the plugins' training code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class NonFiniteLoss(Exception):
    """The training or validation loss became NaN or infinite: the run ends as failed."""


class Pruned(Exception):
    """The pruner stopped the run early (a sweep's trial)."""


@dataclass
class RunResult:
    key: str
    status: str                                  # finished | pruned | failed
    metrics: dict[str, float] = field(default_factory=dict)   # last evaluation + cost/*
    history: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    error: str = ""                              # one line: why it failed
    traceback: str = ""
    state_dict: dict[str, Any] | None = None     # trained weights, when asked for
