"""Telling Optuna what happened to a trial, and giving every trial its MLflow child.

A trained run's child is created by the loop and written by the writer; Optuna is told here
once it is written. A trial that trains nothing itself (served from the run cache, failed
before running, preempted before its twin ran) gets a child too, queued here and written
after the next journal flush: the study's parent shows every trial of the study.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from assay._drive.sweep.ledger import Ledger, LiveTrial
from assay._drive.sweep.model import TrialRecord
from assay._record.tracking import Create, Handle, Record, reuse_tags, run_tags
from assay._run.result import RunResult
from assay.spec import RunSpec


class Teller:
    def __init__(self, study: Any, ledger: Ledger, registry: Any, metrics: list[str], *,
                 study_name: str, experiment: str, experiment_id: str, parent_id: str,
                 finished: dict[str, dict[str, Any]],
                 on_note: Callable[[TrialRecord], None]) -> None:
        self.study, self.ledger, self.registry, self.metrics = study, ledger, registry, metrics
        self.study_name, self.experiment, self.parent_id = study_name, experiment, parent_id
        self.experiment_id = experiment_id
        self.finished = finished                  # the run cache: run key -> run, metrics
        self.on_note = on_note

    def values(self, metrics: Mapping[str, float]) -> list[float] | None:
        try:
            values = [float(metrics[m]) for m in self.metrics]
        except KeyError:
            return None
        return values if all(math.isfinite(v) for v in values) else None

    def written(self, tid: int, live: LiveTrial, run_id: str) -> None:
        """The run of ``live`` is in MLflow: tell Optuna, then its waiting twins."""
        from optuna.trial import TrialState

        trial, result = live.trial, live.result
        if result.status == "preempted":
            self.preempted(trial, live.params, live.key, run_id, result.error)
            return
        values = self.values(result.metrics) if result.status == "finished" else None
        if result.status == "finished" and values is not None:
            self.study.tell(trial, values)
            self.finished[live.key] = {"run_id": run_id, "metrics": result.metrics,
                                       "experiment_id": self.experiment_id}
        elif result.status == "pruned":
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            error = result.error or "objective metric missing or not finite"
            trial.set_user_attr("assay_error", error[:2000])
            self.study.tell(trial, state=TrialState.FAIL)
        status = result.status if values is not None or result.status != "finished" else "failed"
        self.on_note(TrialRecord(tid, live.params, status, values, live.key, run_id,
                                 result.error))
        for twin in self.ledger.followers.pop(live.key, []):
            if status == "finished" and values is not None:
                self.cached(twin.trial, twin.params, twin.run, values, self.finished[live.key])
            else:                                   # its twin did not finish
                twin.trial.set_user_attr("assay_error", "twin run did not finish")
                self.failed(twin.trial, twin.params, twin.run, "twin run did not finish")

    def cached(self, trial: Any, params: dict[str, Any], run: RunSpec, values: list[float],
               prev: Mapping[str, Any]) -> None:
        """Served from the run cache: told at once; its child copies and links the original."""
        trial.set_user_attr("assay_reused_run", prev["run_id"])
        self.study.tell(trial, values)
        self.child(trial.number, params, run, RunResult(run.key, "reused",
                                                        metrics=dict(prev["metrics"])),
                   reuse_tags(prev["run_id"], prev.get("experiment_id", "")))
        self.on_note(TrialRecord(trial.number, params, "reused", values, run.key,
                                 prev["run_id"]))

    def failed(self, trial: Any, params: dict[str, Any], run: RunSpec | None,
               error: str) -> None:
        from optuna.trial import TrialState

        self.study.tell(trial, state=TrialState.FAIL)
        key = run.key if run is not None else ""
        self.child(trial.number, params, run, RunResult(key, "failed", error=error))
        self.on_note(TrialRecord(trial.number, params, "failed", None, key, error=error))

    def preempted(self, trial: Any, params: dict[str, Any], key: str, run_id: str,
                  error: str) -> None:
        """Optuna: FAIL with ``assay_status=preempted``, and the same parameters enqueued:
        the study's next run asks them first."""
        from optuna.trial import TrialState

        trial.set_user_attr("assay_status", "preempted")
        self.study.tell(trial, state=TrialState.FAIL)
        self.study.enqueue_trial(params, user_attrs={"assay_resumed_from": trial.number})
        self.on_note(TrialRecord(trial.number, params, "preempted", None, key, run_id, error))

    def preempt_followers(self, why: str) -> None:
        for twins in self.ledger.followers.values():
            for f in twins:
                self.preempted(f.trial, f.params, f.run.key, "", why)
                self.child(f.trial.number, f.params, f.run,
                           RunResult(f.run.key, "preempted", error=why))
        self.ledger.followers.clear()

    def child(self, tid: int, params: dict[str, Any], run: RunSpec | None,
              result: RunResult, extra: Mapping[str, str] = {}) -> None:
        """The child run of a trial that ran nothing itself (written after the next flush)."""
        base = {"assay.trial": str(tid), "assay.study": self.study_name, **extra}
        tags = run_tags(run, self.registry, base) if run is not None else \
            {**base, "assay.status": "running"}
        flat = run.flat_params() if run is not None else {k: str(v) for k, v in params.items()}
        handle = Handle()
        self.ledger.to_write += [Create(handle, self.experiment, f"trial-{tid}", tags, flat,
                                        self.parent_id), Record(handle, result)]
