"""The sweep driver: the submit/pump loop.

Each round it asks Optuna while a slot is free, flushes the study's journal, creates the
trials' MLflow runs (through the writer thread) and submits the runs; then it pumps what came
back: reports go to the pruner, results to the writer, and Optuna is told once a result is
written. A run key that finished before (in any study on this store) is not run again: the
trial is told at once and its child run copies and links to the original.

(A little over 300 lines: the loop and the handlers of what comes back are one sequence of
events, read best in one file; telling Optuna, the ledger, the parent run, resume and the
study's storage and lock live in their own modules.)
"""
from __future__ import annotations

import math
import os
import queue
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from assay._dispatch.executor import Executor, Message, make_executor
from assay._drive import gcpause
from assay._drive.run import Loaded
from assay._drive.shutdown import Interrupted, StopSignals
from assay._drive.sweep.journal import fsync, study_storage
from assay._drive.sweep.ledger import Follower, Ledger, LiveTrial
from assay._drive.sweep.lock import StudyLock
from assay._drive.sweep.model import (
    SweepResult,
    TrialRecord,
    best_record,
    counted,
    grid_exhausted,
    sweep_result,
)
from assay._drive.sweep.outcomes import Teller
from assay._drive.sweep.parent import finish_parent, open_parent, parent_params
from assay._drive.sweep.resume import reconcile, reseed
from assay._drive.writer import Writer
from assay._experiment.resolve import build_run
from assay._experiment.space import SweepSpec, make_pruner, make_sampler
from assay._record.tracking import Store, Tracker, run_tags
from assay._run.result import RunResult
from assay.errors import UserError
from assay.spec import RunSpec

PREFETCH = 1      # runs queued behind each busy worker slot
STOP_WAIT_S = 30  # after a signal: how long to wait for results already being written


class Driver:
    """One sweep: construct, then ``run()``."""

    def __init__(self, loaded: Loaded, sweep: SweepSpec, *, store: Store | None = None,
                 workers: int | None = None, scheduler: str | None = None,
                 study_name: str | None = None, parent: str | None = None,
                 experiment: str | None = None, progress: bool = True,
                 extra_tags: Mapping[str, str] | None = None, plots: bool = True,
                 executor: Executor | None = None, adopt: bool = False,
                 study_storage: str | None = None) -> None:
        self.loaded, self.sweep = loaded, sweep
        self.study_url = study_storage
        self.store = store or Store.resolve()
        self.study_name = study_name or loaded.experiment.name
        self.experiment = experiment or loaded.experiment.name
        self.progress, self.plots, self.parent_given = progress, plots, parent
        self.extra_tags = dict(extra_tags or {})
        self.objective = loaded.experiment.objective
        self.no_pruning = len(self.objective.metrics) > 1 or sweep.pruner == "none"
        self.owns_executor = executor is None or adopt
        self.executor = self._bind(executor, adopt, workers, scheduler)
        self.ledger = Ledger(minimize=self.objective.directions[0] == "minimize")
        self.stop = StopSignals()
        self.notes: list[str] = []
        self.display: Any = None

    def _bind(self, executor: Executor | None, adopt: bool, workers: int | None,
              scheduler: str | None) -> Executor:
        warm = (self.loaded.registry.sources, self.loaded.run.model_dump_json())
        if executor is None:
            executor = make_executor(workers, scheduler, self.store.root, kind="sweep",
                                     warm=warm, max_retries=self.sweep.max_retries, start=False)
        elif adopt:                               # started early by the caller; ours now
            executor.set_warm(*warm, max_retries=self.sweep.max_retries)
        executor.state_dir = str(self.store.root / "states")   # this store's weights
        if self.owns_executor:
            self.inbox = executor.inbox
        else:                                     # shared: ours until this sweep ends
            self.inbox = queue.Queue()
            executor.rebind(self.inbox, f"assay-sweep-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        return executor

    # --- set-up -------------------------------------------------------------------------
    def _open(self) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.tracker = Tracker(self.store)
        storage, self.journal, self.backend = study_storage(self.store, self.study_name,
                                                             self.study_url)
        self.lock = StudyLock(self.store.root, self.study_name, self.study_url)
        self.lock.acquire(storage)
        directions = self.objective.directions
        train = self.loaded.run.train
        self.study = optuna.create_study(
            study_name=self.study_name, storage=storage, load_if_exists=True,
            directions=directions, sampler=make_sampler(self.sweep, len(directions)),
            pruner=make_pruner(self.sweep, train.steps, train.eval_every))
        if self.study_url:
            self.lock.announce(storage, self.study._study_id)
        reseed(self.study, self.sweep, len(directions))
        self.writer = Writer(self.tracker, self.inbox)
        self.parent_id = self.parent_given or open_parent(
            self.tracker, self.experiment, self.study_name, self.journal, self.objective,
            parent_params(self.loaded.run.flat_params(), self.sweep), self.extra_tags)
        resumed = reconcile(self.study, self.tracker, self.experiment, self.parent_id,
                            self.objective.metrics)
        if resumed.note():
            self._say(resumed.note())
        self.finished = self.tracker.finished_keys()
        self.experiment_id = self.tracker.experiment_id(self.experiment)
        trials = self.study.get_trials(deepcopy=False)
        self.ledger.done = counted(trials)
        self.ledger.best = best_record(self.study, len(self.objective.metrics))
        self.teller = Teller(self.study, self.ledger, self.loaded.registry,
                             self.objective.metrics, study_name=self.study_name,
                             experiment=self.experiment, experiment_id=self.experiment_id,
                             parent_id=self.parent_id, finished=self.finished,
                             on_note=self._note)

    # --- the loop -----------------------------------------------------------------------
    def run(self, trials: int | None = None, timeout_s: float | None = None) -> SweepResult:
        started = time.perf_counter()
        with StopSignals(self.executor.interrupt) as self.stop:
            if self.owns_executor:
                self.executor.start()           # Dask starts while MLflow/Optuna open
            try:
                self._open()
                if self.plots:                  # while the workers start, not beside trials
                    from assay._drive.sweep.report import preload_plotting

                    preload_plotting()
                self.executor.wait_ready()
                gcpause.resume()                # start-up is over (assay._drive.gcpause)
                deadline = started + (timeout_s or self.sweep.timeout_s or math.inf)
                self._loop(trials or self.sweep.trials, deadline)
                if self.stop.signal:
                    self._stop_live()
                self._close(time.perf_counter() - started)
            except BaseException:
                if self.owns_executor:
                    self.executor.close()
                if hasattr(self, "writer"):
                    self.writer.close()
                raise
            finally:
                if hasattr(self, "backend"):
                    self.backend.flush()        # an error: keep what Optuna knows
                if hasattr(self, "lock"):
                    self.lock.release()
        result = self._result(time.perf_counter() - started)
        if self.stop.signal:
            raise Interrupted(self.stop.signal, result)
        return result

    def _loop(self, target: int, deadline: float) -> None:
        from assay._drive.sweep.report import Display

        ledger = self.ledger
        with Display(target, self.objective, enabled=self.progress) as self.display:
            while True:
                while (not self.stop.signal and self._room()
                       and ledger.done + len(ledger.live) + ledger.n_followers < target
                       and time.perf_counter() < deadline
                       and not grid_exhausted(self.study, self.sweep)):
                    self._ask_and_submit()
                self._submit()
                if not ledger.live or self.stop.signal:
                    break
                self._pump()
                self.backend.flush()
            self.display.update(ledger, force=True)
        self.display = None

    def _room(self) -> bool:
        """A free slot: fewer runs on the workers than they can run, plus one queued behind
        each so no worker waits on a round trip to the driver; and a bounded number of
        results waiting to be written (Optuna is told once they are)."""
        slots = self.executor.n_slots
        return (len(self.ledger.running) < slots + slots * PREFETCH
                and len(self.ledger.live) < 4 * slots + 4)

    def _ask_and_submit(self) -> None:
        trial = self.study.ask()
        overrides = {path: dist.suggest(trial, path) for path, dist in self.sweep.space.items()}
        try:
            _, run = build_run(self.loaded.raw, self.loaded.registry,
                               {**self.loaded.overrides, **overrides})
        except UserError as exc:                 # a sampled value the component rejects
            trial.set_user_attr("assay_error", str(exc))
            self.teller.failed(trial, overrides, None, str(exc))
            return
        trial.set_user_attr("run_key", run.key)
        if run.pretrain is not None:
            from assay._drive.run import ensure_pretrained
            from assay._experiment.resolve import full_registry

            ensure_pretrained(run, self.tracker, full_registry(self.loaded.registry),
                              self.store)           # trains here: the full registry
        prev = self.finished.get(run.key)        # content-addressed: reuse, never re-run
        values = self.teller.values(prev["metrics"]) if prev is not None else None
        if prev is not None and values is not None:
            self.teller.cached(trial, overrides, run, values, prev)
        elif run.key in self.ledger.by_key:       # its twin is running: wait for it
            self.ledger.followers.setdefault(run.key, []).append(
                Follower(trial, overrides, run))
        else:
            self.ledger.add(trial.number, LiveTrial(trial, run.key, overrides, run,
                                                    run.flat_params()))

    def _submit(self) -> None:
        """Trials are on disk before their runs exist anywhere: flush, then create the MLflow
        runs and submit."""
        self.backend.flush()
        ledger, reg = self.ledger, self.loaded.registry
        if ledger.to_write:
            self.writer.write(ledger.to_write)
            ledger.to_write = []
        for tid in ledger.to_submit:
            live = ledger.live[tid]
            tags = run_tags(live.run, reg, {"assay.trial": str(tid),
                                            "assay.study": self.study_name})
            self.writer.start_run(tid, self.experiment, f"trial-{tid}", tags, {}, self.parent_id)
            self.executor.submit(tid, live.run, self._resources(live.run))
        ledger.to_submit.clear()

    def _resources(self, run: RunSpec) -> dict[str, float]:
        from assay._experiment.resolve import backend_resources

        return backend_resources(self.loaded.registry, run.backend)

    def _pump(self, wait: float = 0.5) -> None:
        self.executor.work(self._on_report)      # inline: one run here; Dask: nothing
        try:
            msg = self.inbox.get(timeout=wait) if wait else self.inbox.get_nowait()
        except queue.Empty:
            return
        msgs = [msg]
        while True:
            try:
                msgs.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        for m in msgs:
            {"report": self._on_report, "result": self._on_result, "lost": self._on_lost,
             "written": self._on_written, "note": self._on_note}[m.kind](m)

    # --- what comes back ----------------------------------------------------------------
    def _on_report(self, m: Message) -> None:
        live = self.ledger.live.get(m.tid)
        if live is None or self.no_pruning or live.result is not None:
            return
        value = (m.metrics or {}).get(self.objective.metrics[0])
        if value is None or not math.isfinite(value) or m.step in live.reported:
            return                                  # (a retried run re-reports its steps)
        live.reported.add(m.step)
        live.trial.report(value, m.step)
        if live.trial.should_prune():
            self.executor.prune(m.tid)

    def _on_result(self, m: Message) -> None:
        live = self.ledger.live.get(m.tid)
        if live is None or live.result is not None:
            return
        result = m.result
        if not result.key:
            result.key = live.key
        live.result = result
        self.ledger.running.discard(m.tid)
        self.writer.record(m.tid, result, params=live.flat)  # told once written

    def _on_lost(self, m: Message) -> None:
        error = f"worker lost (retried {self.sweep.max_retries}x): {m.error}"
        self._say(f"trial {m.tid}: {error}; recorded as failed")
        live = self.ledger.live.get(m.tid)
        key = live.key if live is not None else ""
        self._on_result(Message("result", m.tid, result=RunResult(key, "failed", error=error)))

    def _on_note(self, m: Message) -> None:
        self._say(m.error)

    def _on_written(self, m: Message) -> None:
        live = self.ledger.pop(m.tid)
        self.teller.written(m.tid, live, self.writer.handles[m.tid].run_id)

    def _note(self, rec: TrialRecord) -> None:
        self.ledger.note(rec)
        if self.display:
            self.display.update(self.ledger)

    def _say(self, text: str) -> None:
        from assay._drive.sweep.report import note

        self.notes.append(text)
        note(text)

    # --- the end ------------------------------------------------------------------------
    def _stop_live(self) -> None:
        """A signal: no more asks (the loop has stopped); every run still out is dropped and
        its trial preempted, results already back are written and told as usual."""
        ledger, why = self.ledger, f"driver stopped by {self.stop.name}"
        self.executor.cancel()
        self._pump(wait=0)                          # results that are back already count
        out = [tid for tid, live in ledger.live.items() if live.result is None]
        self._say(f"{self.stop.name}: stopping; {len(out) + ledger.n_followers} trial(s) "
                  "in flight are marked preempted (the same command resumes the study)")
        for tid, live in list(ledger.live.items()):
            if live.result is None:
                live.result = RunResult(live.key, "preempted", error=why)
                ledger.running.discard(tid)
                self.writer.record(tid, live.result, params=live.flat)
        self.teller.preempt_followers(why)
        deadline = time.monotonic() + STOP_WAIT_S
        while ledger.live and time.monotonic() < deadline:
            self._pump()
        self._submit()                              # the followers' children, after a flush

    def _close(self, wall: float) -> None:
        closing = None
        if self.owns_executor:                  # every run is back: the cluster shuts
            closing = threading.Thread(target=self.executor.close, name="assay-close")
            closing.start()                     # down while the parent run is written
        self.writer.close()
        self.backend.flush()
        if not self.study_url:
            fsync(self.journal)
        finish_parent(self.tracker, self.parent_id, self.study, self.objective.metrics,
                      len(self.sweep.space), wall, plots=self.plots, stopped=self.stop.name,
                      owned=not self.parent_given)
        if closing is not None:
            closing.join()

    def _result(self, wall: float) -> SweepResult:
        return sweep_result(self.study, len(self.objective.metrics), self.parent_id,
                            self.ledger.records, str(self.journal), wall, self.notes,
                            self.stop.name)
