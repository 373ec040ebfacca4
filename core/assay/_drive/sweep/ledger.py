"""The driver's typed trial ledger: which trials are out, what came back, what was noted."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assay._drive.sweep.model import TrialRecord
from assay._record.tracking import Op
from assay.spec import RunSpec


@dataclass
class LiveTrial:
    """A trial asked from Optuna whose run is out (or queued) and not yet told."""
    trial: Any                           # optuna.Trial
    key: str                             # the run's content key
    params: dict[str, Any]               # the sampled values, by dotted path
    run: RunSpec
    flat: dict[str, str]                 # the run's MLflow params
    result: Any = None                   # RunResult, once it came back
    reported: set[int] = field(default_factory=set)   # steps told to the pruner


@dataclass
class Follower:
    """A trial whose run key is already live in another trial: it waits for that twin."""
    trial: Any
    params: dict[str, Any]
    run: RunSpec


@dataclass
class Ledger:
    minimize: bool = True                # the first objective's direction (for ``best``)
    live: dict[int, LiveTrial] = field(default_factory=dict)
    running: set[int] = field(default_factory=set)          # submitted, no result yet
    by_key: dict[str, int] = field(default_factory=dict)    # live run key -> trial
    followers: dict[str, list[Follower]] = field(default_factory=dict)
    to_submit: list[int] = field(default_factory=list)      # asked; runs go out after flush
    to_write: list[Op] = field(default_factory=list)        # child runs of untrained trials
    records: list[TrialRecord] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)    # this invocation, by status
    done: int = 0                        # trials of the study that count toward the target
    best: TrialRecord | None = None      # best of the study so far (first objective)

    def add(self, tid: int, live: LiveTrial) -> None:
        self.live[tid] = live
        self.by_key[live.key] = tid
        self.running.add(tid)
        self.to_submit.append(tid)

    def pop(self, tid: int) -> LiveTrial:
        live = self.live.pop(tid)
        if self.by_key.get(live.key) == tid:
            del self.by_key[live.key]
        return live

    @property
    def n_followers(self) -> int:
        return sum(len(v) for v in self.followers.values())

    def note(self, rec: TrialRecord) -> None:
        self.records.append(rec)
        self.counts[rec.status] = self.counts.get(rec.status, 0) + 1
        if rec.status != "preempted":
            self.done += 1
        if rec.values and (self.best is None or self._better(rec.values[0], self.best)):
            self.best = rec

    def _better(self, value: float, than: TrialRecord) -> bool:
        old = (than.values or [value])[0]
        return value < old if self.minimize else value > old
