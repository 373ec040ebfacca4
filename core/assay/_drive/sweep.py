"""Optuna sweeps on Dask, recorded in MLflow. The driver owns all state.

Optuna (ask/tell, sampler in memory, study in a journal file beside the MLflow store) decides
what to run; Dask decides where; MLflow records it. The driver submits a trial whenever a
slot frees up (never more than the cluster can run), forwards each evaluation to Optuna's
pruner and the pruning decision back to the live run, writes MLflow from one thread, and
tells Optuna only once the run is recorded. Runs are keyed by content: a key that finished
before (in any sweep, law or claim on this store) is reused, not re-run.

Resume: re-running the same command continues the study. Trials that were running when the
driver died are marked preempted (Optuna: FAIL with ``assay_status=preempted``; MLflow:
KILLED, tag ``assay.status=preempted``) and asked again with the same parameters.
"""
from __future__ import annotations

import json
import math
import os
import queue
import time
from collections.abc import Mapping
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

from assay._drive.run import Loaded
from assay.errors import UserError
from assay._dispatch.executor import DaskExecutor, InlineExecutor, Message, start_early
from assay._experiment.space import SweepSpec, make_pruner, make_sampler, parse_sweep
from assay._experiment.resolve import build_run, canonical
from assay._record.tracking import Store, Tracker, run_tags
from assay._drive.writer import Writer


PREFETCH = 1      # runs queued behind each busy worker slot


@dataclass
class TrialRecord:
    number: int
    params: dict[str, Any]
    status: str                     # finished | pruned | failed | reused
    values: list[float] | None
    run_key: str = ""
    run_id: str = ""
    error: str = ""


@dataclass
class SweepResult:
    study_name: str
    parent_run_id: str
    trials: list[TrialRecord] = field(default_factory=list)
    best: TrialRecord | None = None
    journal: str = ""
    wall_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


class _NoFlush:
    def flush(self) -> None:
        pass


def study_storage(store: Store, name: str, url: str | None = None) -> tuple[Any, str, Any]:
    """(Optuna storage, where it is, flushable backend).

    Default: Optuna's journal file beside the MLflow store (readable by
    ``JournalFileBackend``, ``optuna.load_study`` and optuna-dashboard), written by the driver
    alone: see ``DriverJournal``. With ``url`` (``--study-storage``, ASSAY_STUDY_STORAGE or
    assay.toml), any storage Optuna accepts: a database URL (postgresql://, mysql://,
    sqlite://) shared by a team. The one-driver-per-study lock is a file under the store's
    folder: it does not stop a second driver of the same study on another machine."""
    import optuna

    if url:
        if "://" not in url:
            raise UserError(f"study storage {url!r} is not a URL (e.g. postgresql://HOST/DB)")
        try:
            storage = optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
        except Exception as exc:  # noqa: BLE001 - driver missing, server down, bad URL
            from assay._experiment.settings import redact

            raise UserError(f"cannot open the study storage {redact(url)}: "
                            f"{type(exc).__name__}: {exc}") from None
        return storage, url, _NoFlush()
    path = store.root / "optuna" / f"{name}.journal"
    path.parent.mkdir(parents=True, exist_ok=True)
    backend = DriverJournal(str(path))
    return optuna.storages.JournalStorage(backend), str(path), backend


def _driver_journal_class() -> Any:
    from optuna.storages.journal import JournalFileBackend
    from optuna.storages.journal._file import get_lock_file

    class _DriverJournal(JournalFileBackend):
        """The study's journal while one driver holds its lock (``<study>.driver.lock``).

        Optuna's file backend re-opens and re-reads the file before every storage operation
        and fsyncs every append: ~10 file operations per trial, each one a point where the
        driver's thread gives up the GIL to Dask's and the writer's threads (~13 ms per trial
        measured here). No other process writes this file while the lock is held, so the
        driver replays from memory and appends in batches: ``flush()`` runs before runs are
        submitted and after each round of results, and the file is fsynced at the end.
        A driver killed between two flushes loses only operations that the next run redoes
        (asked-but-unsubmitted trials; tells whose run is in MLflow, reused by run key).
        """

        def __init__(self, file_path: str) -> None:
            super().__init__(file_path)
            self._logs = list(super().read_logs(0))
            self._buffer: list[str] = []

        def read_logs(self, log_number_from: int) -> Any:
            return iter(self._logs[log_number_from:])

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            for log in logs:
                line = json.dumps(log, separators=(",", ":"))
                self._buffer.append(line)
                self._logs.append(json.loads(line))   # replayed exactly as read from disk

        def flush(self) -> None:
            if not self._buffer:
                return
            text = "\n".join(self._buffer) + "\n"
            with get_lock_file(self._lock):
                with open(self._file_path, "ab") as f:
                    f.write(text.encode("utf-8"))
            self._buffer.clear()

    return _DriverJournal


def DriverJournal(path: str) -> Any:  # noqa: N802 - a class, built on first use (lazy optuna)
    global _DRIVER_JOURNAL
    if _DRIVER_JOURNAL is None:
        _DRIVER_JOURNAL = _driver_journal_class()
    return _DRIVER_JOURNAL(path)


_DRIVER_JOURNAL: Any = None


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


class Driver:
    """One sweep: construct, then ``run()``."""

    def __init__(self, loaded: Loaded, sweep: SweepSpec, *, store: Store | None = None,
                 workers: int | None = None, scheduler: str | None = None,
                 study_name: str | None = None, parent: str | None = None,
                 experiment: str | None = None, progress: bool = True,
                 extra_tags: Mapping[str, str] | None = None, plots: bool = True,
                 executor: Any = None, adopt: bool = False,
                 study_storage: str | None = None) -> None:
        self.loaded, self.sweep = loaded, sweep
        self.study_url = study_storage
        self.store = store or Store.resolve()
        self.study_name = study_name or loaded.experiment.name
        self.experiment = experiment or loaded.experiment.name
        self.progress, self.plots, self.parent_given = progress, plots, parent
        self.extra_tags = dict(extra_tags or {})
        self.inbox: queue.Queue[Message] = queue.Queue()
        state_dir = str(self.store.root / "states")
        warm = (loaded.registry.sources, loaded.run.model_dump_json())
        self.owns_executor = executor is None or adopt
        if executor is not None and adopt:      # started early by the caller; ours now
            self.executor, self.inbox = executor, executor.inbox
            executor.state_dir = state_dir
            executor.set_warm(*warm, max_retries=sweep.max_retries)
        elif executor is not None:
            self.executor = executor
            executor.state_dir = state_dir        # this store's pretrained weights
            executor.rebind(self.inbox, f"assay-{os.getpid()}-{id(self)}")
        elif workers == 0:
            self.executor = InlineExecutor(self.inbox, state_dir)
        else:
            topic = f"assay-{os.getpid()}-{abs(hash(self.study_name)) % 10**6}"
            self.executor = DaskExecutor(self.inbox, workers=workers, scheduler=scheduler,
                                         topic=topic, max_retries=sweep.max_retries,
                                         state_dir=state_dir, warm=warm,
                                         log_dir=str(self.store.root / "logs"))
        self.objective = loaded.experiment.objective
        self.live: dict[int, Any] = {}           # tid -> optuna trial, submitted and not told
        self.running: set[int] = set()           # submitted, no result yet
        self.to_submit: list[tuple[int, Any]] = []
        self.meta: dict[int, dict[str, Any]] = {}
        self.followers: dict[str, list[Any]] = {}  # run key -> trials waiting on a live twin
        self.records: list[TrialRecord] = []
        self.display: Any = None

    # --- set-up -------------------------------------------------------------------------
    def _open(self) -> None:
        import optuna
        from filelock import FileLock, Timeout

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.tracker = Tracker(self.store)
        storage, self.journal, self.backend = study_storage(self.store, self.study_name,
                                                             self.study_url)
        lock_dir = self.store.root / "optuna"
        lock_dir.mkdir(parents=True, exist_ok=True)
        self.lock = FileLock(str(lock_dir / f"{self.study_name}.driver.lock"))
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            raise UserError(f"study {self.study_name!r} is being driven by another assay "
                            "process; wait for it, or pass --study NAME for a separate study"
                            ) from None
        directions = self.objective.directions
        train = self.loaded.run.train
        self.study = optuna.create_study(
            study_name=self.study_name, storage=storage, load_if_exists=True,
            directions=directions, sampler=make_sampler(self.sweep, len(directions)),
            pruner=make_pruner(self.sweep, train.steps, train.eval_every))
        self.writer = Writer(self.tracker, self.inbox)
        self.parent_id = self.parent_given or self._parent_run()
        self._reconcile()
        self.finished = self.tracker.finished_keys()

    def _parent_run(self) -> str:
        client = self.tracker.client
        exp_id = self.tracker.experiment_id(self.experiment)
        found = client.search_runs([exp_id], f"tags.`assay.study` = '{self.study_name}' and "
                                   "tags.`assay.kind` = 'sweep'", max_results=1)
        if found:
            run_id = found[0].info.run_id
            client.update_run(run_id, status="RUNNING")
            return run_id
        params = {f"sweep.{k}": v for k, v in self.loaded.run.flat_params().items()}
        params.update({"sweep.space": canonical(
            {k: v.model_dump(exclude_none=True) for k, v in self.sweep.space.items()}),
            "sweep.sampler": self.sweep.sampler, "sweep.pruner": self.sweep.pruner,
            "sweep.trials": str(self.sweep.trials)})
        from assay._experiment.settings import redact

        tags = {"assay.study": self.study_name, "assay.kind": "sweep",
                "assay.journal": redact(str(self.journal)), "assay.objective": canonical(
                    self.objective.model_dump()), **self.extra_tags}
        return self.tracker.start_run(self.experiment, f"sweep-{self.study_name}", tags, params)

    def _reconcile(self) -> None:
        """Trials left RUNNING by a dead driver are preempted: marked, then asked again."""
        from optuna.trial import TrialState

        stale = self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        for t in stale:
            self.study._storage.set_trial_user_attr(t._trial_id, "assay_status", "preempted")
            self.study.tell(t.number, state=TrialState.FAIL)
            self.study.enqueue_trial(t.params, user_attrs={"assay_resumed_from": t.number})
        client = self.tracker.client
        exp_id = self.tracker.experiment_id(self.experiment)
        children = client.search_runs(
            [exp_id], f"tags.`mlflow.parentRunId` = '{self.parent_id}' and "
            "attributes.status = 'RUNNING'", max_results=10000)
        for r in children:
            client.set_tag(r.info.run_id, "assay.status", "preempted")
            client.set_terminated(r.info.run_id, "KILLED")
        self.n_preempted = len(stale)

    # --- the loop -----------------------------------------------------------------------
    def _counted(self) -> int:
        from optuna.trial import TrialState

        n = 0
        for t in self.study.get_trials(deepcopy=False):
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
                n += 1
            elif t.state == TrialState.FAIL and t.user_attrs.get("assay_status") != "preempted":
                n += 1
        return n

    def run(self, trials: int | None = None, timeout_s: float | None = None) -> SweepResult:
        started = time.perf_counter()
        if self.owns_executor:
            self.executor.start()               # Dask starts while MLflow/Optuna open
        try:
            self._open()
            self.executor.wait_ready()
            if self.plots:
                from assay._drive.sweep_report import preload_plotting

                preload_plotting()
            target = trials or self.sweep.trials
            deadline = started + (timeout_s or self.sweep.timeout_s or math.inf)
            self.done = self._counted()
            with self._display(target) as display:
                self.display = display
                while True:
                    while (self._room()
                           and self.done + len(self.live) + self._n_followers() < target
                           and time.perf_counter() < deadline and not self._grid_exhausted()):
                        self._ask_and_submit()
                    self.backend.flush()            # trials are on disk before they run
                    for tid, run in self.to_submit:
                        self.executor.submit(tid, run, self._resources(run))
                    self.to_submit.clear()
                    if not self.live:
                        break
                    self._pump()
                    self.backend.flush()
                display.update(self, force=True)
            closing = None
            if self.owns_executor:                  # every run is back: the cluster shuts
                import threading                    # down while the parent run is written

                closing = threading.Thread(target=self.executor.close, name="assay-close")
                closing.start()
            self.writer.close()
            self.backend.flush()
            if not self.study_url:
                _fsync(Path(self.journal))
            self._finish_parent(time.perf_counter() - started)
            if closing is not None:
                closing.join()
        except BaseException:
            if self.owns_executor:
                self.executor.close()
            if hasattr(self, "writer"):
                self.writer.close()
            raise
        finally:
            if hasattr(self, "backend"):
                self.backend.flush()               # Ctrl-C or an error: keep what Optuna knows
            if hasattr(self, "lock"):
                self.lock.release()
        return self._result(time.perf_counter() - started)

    def _room(self) -> bool:
        """A free slot: fewer runs on the workers than they can run, plus one queued behind
        each so no worker waits on a round trip to the driver; and a bounded number of
        results waiting to be written (Optuna is told once they are)."""
        slots = self.executor.n_slots
        return len(self.running) < slots + slots * PREFETCH and len(self.live) < 4 * slots + 4

    def _grid_exhausted(self) -> bool:
        if self.sweep.sampler != "grid":
            return False
        from optuna.trial import TrialState

        seen = {canonical(t.params) for t in self.study.get_trials(deepcopy=False)
                if t.state != TrialState.FAIL or t.user_attrs.get("assay_status") != "preempted"}
        waiting = any(t.state == TrialState.WAITING for t in self.study.get_trials(deepcopy=False))
        return not waiting and len(seen) >= self.sweep.grid_size()

    def _n_followers(self) -> int:
        return sum(len(v) for v in self.followers.values())

    def _ask_and_submit(self) -> None:
        from optuna.trial import TrialState

        trial = self.study.ask()
        overrides = {path: dist.suggest(trial, path) for path, dist in self.sweep.space.items()}
        try:
            _, run = build_run(self.loaded.raw, self.loaded.registry,
                               {**self.loaded.overrides, **overrides})
        except UserError as exc:                 # a sampled value the component rejects
            trial.set_user_attr("assay_error", str(exc))
            self.study.tell(trial, state=TrialState.FAIL)
            self._note(TrialRecord(trial.number, overrides, "failed", None, error=str(exc)))
            return
        trial.set_user_attr("run_key", run.key)
        if run.pretrain is not None:
            from assay._drive.run import ensure_pretrained

            ensure_pretrained(run, self.tracker, self.loaded.registry, self.store)
        if run.key in self.finished:             # content-addressed: reuse, never re-run
            prev = self.finished[run.key]
            values = self._values(prev["metrics"])
            if values is not None:
                trial.set_user_attr("assay_reused_run", prev["run_id"])
                self.study.tell(trial, values)
                self._note(TrialRecord(trial.number, overrides, "reused", values, run.key,
                                       prev["run_id"]))
                return
        if any(self.meta[t]["key"] == run.key for t in self.live):
            self.followers.setdefault(run.key, []).append((trial, overrides))
            return
        tid = trial.number
        self.live[tid] = trial
        self.meta[tid] = {"key": run.key, "params": overrides, "run": run, "lost": 0}
        tags = run_tags(run, self.loaded.registry, {"assay.trial": str(tid),
                                                    "assay.study": self.study_name})
        self.writer.start_run(tid, self.experiment, f"trial-{tid}", tags, {}, self.parent_id)
        self.meta[tid]["params_flat"] = run.flat_params()
        self.running.add(tid)
        self.to_submit.append((tid, run))

    def _resources(self, run: Any) -> dict[str, float]:
        from assay._experiment.resolve import instantiate

        return instantiate(self.loaded.registry, "backend", run.backend).resources()  # type: ignore[attr-defined]

    def _values(self, metrics: Mapping[str, float]) -> list[float] | None:
        try:
            values = [float(metrics[m]) for m in self.objective.metrics]
        except KeyError:
            return None
        return values if all(math.isfinite(v) for v in values) else None

    def _pump(self) -> None:
        if isinstance(self.executor, InlineExecutor) and self.executor.pending:
            self.executor.step(self._on_report)
        try:
            msg = self.inbox.get(timeout=0.5)
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
             "written": self._on_written}[m.kind](m)

    def _on_report(self, m: Message) -> None:
        trial = self.live.get(m.tid)
        if (trial is None or len(self.objective.metrics) > 1 or self.sweep.pruner == "none"
                or self.meta[m.tid].get("result")):
            return
        value = (m.metrics or {}).get(self.objective.metrics[0])
        if value is None or not math.isfinite(value):
            return
        if m.step in self.meta[m.tid].setdefault("reported", set()):
            return                                  # a retried run re-reports its steps
        self.meta[m.tid]["reported"].add(m.step)
        trial.report(value, m.step)
        if trial.should_prune():
            self.executor.prune(m.tid)

    def _on_result(self, m: Message) -> None:
        meta = self.meta.get(m.tid)
        if meta is None or "result" in meta:
            return
        result = m.result
        if not result.key:
            result.key = meta["key"]
        meta["result"] = result
        self.running.discard(m.tid)
        self.writer.record(m.tid, result, params=meta["params_flat"])  # told once written

    def _on_lost(self, m: Message) -> None:
        from assay._run.loop import RunResult

        meta = self.meta[m.tid]
        self._on_result(Message("result", m.tid, result=RunResult(
            meta["key"], "failed", error=f"worker lost (retried {self.sweep.max_retries}x): "
                                         f"{m.error}")))

    def _on_written(self, m: Message) -> None:
        from optuna.trial import TrialState

        trial, meta = self.live.pop(m.tid), self.meta[m.tid]
        result = meta["result"]
        values = self._values(result.metrics) if result.status == "finished" else None
        run_id = self.writer.handles[m.tid].run_id
        if result.status == "finished" and values is not None:
            self.study.tell(trial, values)
            self.finished[meta["key"]] = {"run_id": run_id, "metrics": result.metrics}
        elif result.status == "pruned":
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            error = result.error or "objective metric missing or not finite"
            trial.set_user_attr("assay_error", error[:2000])
            self.study.tell(trial, state=TrialState.FAIL)
        status = result.status if values is not None or result.status != "finished" else "failed"
        self._note(TrialRecord(m.tid, meta["params"], status, values, meta["key"], run_id,
                               result.error))
        for twin, params in self.followers.pop(meta["key"], []):
            self._tell_twin(twin, params, status, values, meta["key"], run_id)

    def _tell_twin(self, trial: Any, params: dict[str, Any], status: str,
                   values: list[float] | None, key: str, run_id: str) -> None:
        from optuna.trial import TrialState

        if status == "finished" and values is not None:
            trial.set_user_attr("assay_reused_run", run_id)
            self.study.tell(trial, values)
            self._note(TrialRecord(trial.number, params, "reused", values, key, run_id))
        else:                                    # its twin did not finish: ask again later
            trial.set_user_attr("assay_error", "its twin run (same run key) did not finish")
            self.study.tell(trial, state=TrialState.FAIL)
            self._note(TrialRecord(trial.number, params, "failed", None, key,
                                   error="twin run did not finish"))

    def _note(self, rec: TrialRecord) -> None:
        self.records.append(rec)
        self.done += 1
        if self.display:
            self.display.update(self)

    # --- the end ------------------------------------------------------------------------
    def _finish_parent(self, wall: float) -> None:
        from assay._drive.sweep_report import log_parent_artifacts

        client = self.tracker.client
        best = self._best()
        tags = {"assay.n_trials": str(len(self.study.trials)), "assay.wall_s": f"{wall:.2f}"}
        if best is not None:
            for i, v in enumerate(best.values):
                name = self.objective.metrics[i]
                client.log_metric(self.parent_id, f"best/{name}", v)
            for k, v in best.params.items():
                tags[f"best.{k}"] = str(v)
        for k, v in tags.items():
            client.set_tag(self.parent_id, k, v)
        if self.plots:
            log_parent_artifacts(self)
        if not self.parent_given:
            client.set_terminated(self.parent_id, "FINISHED")

    def _best(self) -> Any:
        from optuna.trial import TrialState

        done = [t for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
        if not done:
            return None
        if len(self.objective.metrics) > 1:
            return self.study.best_trials[0]
        return self.study.best_trial

    def _result(self, wall: float) -> SweepResult:
        best = self._best()
        best_rec = None
        if best is not None:
            best_rec = TrialRecord(best.number, dict(best.params), "finished", list(best.values),
                                   best.user_attrs.get("run_key", ""))
        counts: dict[str, int] = {}
        for t in self.study.get_trials(deepcopy=False):
            s = t.user_attrs.get("assay_status") or t.state.name.lower()
            counts[s] = counts.get(s, 0) + 1
        return SweepResult(self.study_name, self.parent_id, self.records, best_rec,
                           str(self.journal), wall, counts)

    def _display(self, target: int) -> Any:
        from assay._drive.sweep_report import Display

        return Display(target, self.objective, enabled=self.progress)


def run_sweep(loaded: Loaded, **kwargs: Any) -> SweepResult:
    trials, timeout = kwargs.pop("trials", None), kwargs.pop("timeout_s", None)
    sweep = kwargs.pop("sweep", None) or parse_sweep(loaded.experiment.sweep)
    return Driver(loaded, sweep, **kwargs).run(trials, timeout)


def run_sweep_cli(args: Any) -> int:
    from assay._drive.run import load
    from assay._drive.sweep_report import print_summary

    store = Store.resolve(args.tracking_uri)
    executor = start_early(args.workers, args.scheduler, store.root, "sweep")
    try:
        loaded = load(args.experiment, args.override, args.plugin)
        sweep = parse_sweep(loaded.experiment.sweep)
        if not sweep.space:
            raise UserError("sweep.space is empty: name at least one dotted path to search")
    except BaseException:
        if executor is not None:
            executor.close()
        raise
    result = run_sweep(loaded, sweep=sweep, store=store, workers=args.workers,
                       scheduler=args.scheduler, study_name=args.study, trials=args.trials,
                       timeout_s=args.timeout, executor=executor, adopt=executor is not None,
                       study_storage=args.study_storage)
    print_summary(result, loaded, store)
    return 0


