"""What a sweep produces: one record per trial, and the sweep's result. The reports read these,
never the driver."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrialRecord:
    number: int
    params: dict[str, Any]
    status: str                     # finished | pruned | failed | reused | preempted
    values: list[float] | None
    run_key: str = ""
    run_id: str = ""
    error: str = ""


@dataclass
class SweepResult:
    study_name: str
    parent_run_id: str
    trials: list[TrialRecord] = field(default_factory=list)   # this invocation's trials
    best: TrialRecord | None = None
    journal: str = ""
    wall_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)   # the whole study, by state
    cached: int = 0                 # of the study's complete trials, served from the run cache
    failures: list[tuple[str, int]] = field(default_factory=list)  # commonest reasons first
    notes: list[str] = field(default_factory=list)          # what the driver said on the way
    stopped: str = ""               # the signal that stopped the sweep, if one did

    @property
    def all_failed(self) -> bool:
        """Trials ran and none of them finished or was pruned: the sweep found nothing."""
        return (self.counts.get("fail", 0) > 0 and not self.counts.get("complete")
                and not self.counts.get("pruned"))

    def failure_summary(self) -> str:
        """The commonest failure reasons on one line: ``3 x RuntimeError: ...; 1 x ...``."""
        return "; ".join(f"{n} x {why}" for why, n in self.failures) or "none recorded"


def failure_reasons(trials: list[Any], top: int = 3) -> list[tuple[str, int]]:
    """The commonest reasons among failed Optuna trials (preempted ones are not failures)."""
    reasons: Counter[str] = Counter()
    for t in trials:
        if t.state.name == "FAIL" and t.user_attrs.get("assay_status") != "preempted":
            why = str(t.user_attrs.get("assay_error") or "no reason recorded")
            reasons[why.strip().splitlines()[0][:200] if why.strip() else why] += 1
    return reasons.most_common(top)


def study_counts(trials: list[Any]) -> tuple[dict[str, int], int]:
    """(trials by state, preempted apart; complete trials served from the run cache)."""
    counts: dict[str, int] = {}
    cached = 0
    for t in trials:
        s = t.user_attrs.get("assay_status") or t.state.name.lower()
        counts[s] = counts.get(s, 0) + 1
        cached += s == "complete" and "assay_reused_run" in t.user_attrs
    return counts, cached


def counted(trials: list[Any]) -> int:
    """Trials that count toward the target: every ended trial but the preempted ones."""
    n = 0
    for t in trials:
        if t.state.name in ("COMPLETE", "PRUNED"):
            n += 1
        elif t.state.name == "FAIL" and t.user_attrs.get("assay_status") != "preempted":
            n += 1
    return n


def best_trial(study: Any, n_metrics: int) -> Any:
    """The study's best complete trial (the first of the Pareto front for several
    objectives), or None."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    return study.best_trials[0] if n_metrics > 1 else study.best_trial


def best_record(study: Any, n_metrics: int) -> TrialRecord | None:
    best = best_trial(study, n_metrics)
    if best is None:
        return None
    return TrialRecord(best.number, dict(best.params), "finished", list(best.values),
                       best.user_attrs.get("run_key", ""))


def sweep_result(study: Any, n_metrics: int, parent_id: str, records: list[TrialRecord],
                 journal: str, wall: float, notes: list[str], stopped: str) -> SweepResult:
    trials = study.get_trials(deepcopy=False)
    counts, cached = study_counts(trials)
    return SweepResult(study.study_name, parent_id, records, best_record(study, n_metrics),
                       journal, wall, counts, cached, failure_reasons(trials), notes, stopped)


def grid_exhausted(study: Any, sweep: Any) -> bool:
    """A grid sweep has asked every point (preempted trials' points are asked again)."""
    if sweep.sampler != "grid":
        return False
    from assay._experiment.resolve import canonical

    trials = study.get_trials(deepcopy=False)
    seen = {canonical(t.params) for t in trials
            if t.state.name != "FAIL" or t.user_attrs.get("assay_status") != "preempted"}
    waiting = any(t.state.name == "WAITING" for t in trials)
    return not waiting and len(seen) >= sweep.grid_size()
