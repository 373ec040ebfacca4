"""The writes the tracker knows (a run created, a result recorded), and the rows they make."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay._run.result import RunResult


@dataclass
class Handle:
    """A run that is being written: its MLflow id once the create has landed."""
    run_id: str = ""


@dataclass
class Create:
    handle: Handle
    experiment: str
    name: str
    tags: Mapping[str, str]
    params: Mapping[str, str] = field(default_factory=dict)
    parent: str | None = None


@dataclass
class Record:
    handle: Handle
    result: RunResult
    params: Mapping[str, str] = field(default_factory=dict)


Op = Create | Record


def metric_rows(result: RunResult) -> list[tuple[str, float, int]]:
    """(key, value, step): every finite value of the history, then the final metrics not
    already in it, at the last step."""
    rows = [(k, float(v), step) for step, m in result.history for k, v in m.items()
            if finite(v)]
    last_step = result.history[-1][0] if result.history else 0
    logged = {k for _, m in result.history for k in m}
    rows += [(k, float(v), last_step) for k, v in result.metrics.items()
             if finite(v) and k not in logged]
    return rows


def param_rows(run_id: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(key=k, value=str(v)[:6000], run_uuid=run_id) for k, v in params.items()]


def result_tags(result: RunResult) -> dict[str, str]:
    tags = {"assay.status": result.status}
    if result.error:
        tags["assay.error"] = result.error[:8000]
    return tags


def finite(v: Any) -> bool:
    try:
        return v == v and abs(float(v)) != float("inf")
    except (TypeError, ValueError):
        return False
