"""What a run ends with, importable without torch: the driver of a sweep reads results and
never trains, so it must not pay torch's import (~1 s) for these few classes."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class Reporter(Protocol):
    def __call__(self, step: int, metrics: Mapping[str, float]) -> bool:
        """Receive one evaluation; return True when the run should stop (pruned)."""


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
