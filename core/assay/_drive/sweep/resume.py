"""Starting again on a study that already has trials (a resume, after a kill or a signal).

- The sampler's stream continues: it is reseeded from the number of trials the study has, so
  a restarted TPE or random sampler does not propose the configurations it proposed before
  the restart (each would be served from the run cache and counted again). Grid and QMC
  samplers track their position in the study itself and keep their seed.
- Trials left RUNNING by a driver that died are settled from MLflow, where a run is written
  before Optuna is told: a run that finished, was pruned or failed is told as such (only the
  tell was lost); any other trial is marked preempted (Optuna: FAIL, ``assay_status``;
  MLflow: KILLED) and enqueued to be asked again with the same parameters.
- Every finished trial gets its MLflow child if the kill came between the tell and the
  child's write (trials served from the run cache, trials that failed before running).
A fresh study skips all of this.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from assay._drive.sweep.parent import children
from assay._experiment.space import SweepSpec, make_sampler
from assay._record.tracking import Create, Handle, Op, Record, Tracker, reuse_tags
from assay._run.result import RunResult

FIXED_STREAM = ("grid", "qmc")      # samplers whose position lives in the study


@dataclass
class Resumed:
    preempted: int = 0          # stale trials marked preempted, to be asked again
    recovered: int = 0          # stale trials whose run had ended: told from MLflow
    repaired: int = 0           # finished trials given their missing child run

    def note(self) -> str:
        parts = []
        if self.preempted:
            parts.append(f"{self.preempted} trial(s) left running by a stopped driver are "
                         "marked preempted and will be asked again")
        if self.recovered:
            parts.append(f"{self.recovered} trial(s) whose runs ended before the stop are "
                         "told from MLflow")
        if self.repaired:
            parts.append(f"{self.repaired} missing child run(s) added")
        return "resume: " + "; ".join(parts) if parts else ""


def reseed(study: Any, sweep: SweepSpec, n_objectives: int) -> None:
    n = len(study.get_trials(deepcopy=False))
    if n and sweep.sampler not in FIXED_STREAM:
        study.sampler = make_sampler(sweep.model_copy(update={"seed": sweep.seed + n}),
                                     n_objectives)


def reconcile(study: Any, tracker: Tracker, experiment: str, parent_id: str,
              metrics: list[str]) -> Resumed:
    done = Resumed()
    if not study.get_trials(deepcopy=False):
        return done
    kids = children(tracker, experiment, parent_id)
    by_trial = {r.data.tags.get("assay.trial"): r for r in kids}
    settled = set()
    for t in study.get_trials(deepcopy=False, states=(_state("RUNNING"),)):
        run = by_trial.get(str(t.number))
        _settle(study, tracker, t, run, metrics, done)
        settled.add(run.info.run_id if run is not None else "")
    for r in kids:                  # runs of trials the journal never saw (asked, not flushed)
        if r.info.status == "RUNNING" and r.info.run_id not in settled:
            _kill(tracker, r.info.run_id)
    done.repaired = _repair(study, tracker, experiment, parent_id, by_trial)
    return done


def _state(name: str) -> Any:
    from optuna.trial import TrialState

    return TrialState[name]


def _settle(study: Any, tracker: Tracker, t: Any, run: Any, metrics: list[str],
            done: Resumed) -> None:
    status = run.data.tags.get("assay.status", "") if run is not None else ""
    values = [run.data.metrics.get(m, math.nan) for m in metrics] if run is not None else []
    storage = study._storage
    if status in ("finished", "reused") and values and all(math.isfinite(v) for v in values):
        if status == "reused":
            storage.set_trial_user_attr(t._trial_id, "assay_reused_run",
                                        run.data.tags.get("assay.reused_from", ""))
        study.tell(t.number, values)
    elif status == "pruned":
        study.tell(t.number, state=_state("PRUNED"))
    elif status in ("failed", "finished", "reused"):
        error = run.data.tags.get("assay.error") or "objective metric missing or not finite"
        storage.set_trial_user_attr(t._trial_id, "assay_error", error[:2000])
        study.tell(t.number, state=_state("FAIL"))
    else:
        storage.set_trial_user_attr(t._trial_id, "assay_status", "preempted")
        study.tell(t.number, state=_state("FAIL"))
        study.enqueue_trial(t.params, user_attrs={"assay_resumed_from": t.number})
        if run is not None and run.info.status == "RUNNING":
            _kill(tracker, run.info.run_id)
        done.preempted += 1
        return
    done.recovered += 1


def _kill(tracker: Tracker, run_id: str) -> None:
    tracker.client.set_tag(run_id, "assay.status", "preempted")
    tracker.client.set_terminated(run_id, "KILLED")


def _repair(study: Any, tracker: Tracker, experiment: str, parent_id: str,
            by_trial: dict[str, Any]) -> int:
    ops: list[Op] = []
    for t in study.get_trials(deepcopy=False):
        if not t.state.is_finished() or str(t.number) in by_trial:
            continue
        made = _child_of(tracker, t, study.study_name)
        if made is None:
            continue
        tags, params, result = made
        handle = Handle()
        ops += [Create(handle, experiment, f"trial-{t.number}", tags, params, parent_id),
                Record(handle, result)]
    if ops:
        tracker.apply(ops)
    return len(ops) // 2


def _child_of(tracker: Tracker, t: Any, study: str
              ) -> tuple[dict[str, str], dict[str, str], RunResult] | None:
    """The child run a finished trial should have: a copy of the run it was served from, or
    its failure, or its preemption."""
    key = str(t.user_attrs.get("run_key", ""))
    tags = {"assay.trial": str(t.number), "assay.study": study, "assay.run_key": key}
    params = {k: str(v) for k, v in t.params.items()}
    reused = t.user_attrs.get("assay_reused_run")
    if t.state.name == "COMPLETE" and reused:
        try:
            orig = tracker.client.get_run(reused)
        except Exception:
            orig = None
        if orig is not None:
            tags.update(reuse_tags(reused, orig.info.experiment_id))
            params = dict(orig.data.params)
        metrics = dict(orig.data.metrics) if orig is not None else {}
        return tags, params, RunResult(key, "reused", metrics=metrics)
    if t.state.name == "FAIL":
        preempted = t.user_attrs.get("assay_status") == "preempted"
        error = str(t.user_attrs.get("assay_error", ""))
        return tags, params, RunResult(key, "preempted" if preempted else "failed",
                                       error=error)
    return None                     # a trained trial always has its run; nothing to copy
