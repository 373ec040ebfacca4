"""The Dask executor: the driver's side of a local cluster or of an existing scheduler.

Workers stream each evaluation back (Dask structured events, fire-and-forget); when Optuna's
pruner says stop, the driver pushes the decision to that worker process (``client.run``) and
the run's next report returns True. The final RunResult comes back as the task's result,
gathered by ``as_completed``. Every message lands in the one queue the driver reads. What
runs on the workers is in ``assay._dispatch.worker``.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from assay._dispatch.admission import expected_plugins, mismatches
from assay._dispatch.base import Message
from assay._dispatch.cluster import QUIET_DASK, WORKER_ENV, local_cluster, start_forkserver
from assay._dispatch.worker import mark_pruned, run_task, set_allowed_failures, warm
from assay.spec import RunSpec

WATCH_S = 2.0          # how often the worker set is compared (a lost worker gets a note)


class DaskExecutor:
    """Dask: a local cluster of single-threaded worker processes, or an existing scheduler."""

    def __init__(self, inbox: queue.Queue[Message], *, workers: int | None = None,
                 scheduler: str | None = None, topic: str = "assay", max_retries: int = 2,
                 state_dir: str | None = None,
                 warm: tuple[tuple[str, ...], str | None] | None = ((), None),
                 log_dir: str | None = None) -> None:
        self.inbox, self.topic, self.state_dir = inbox, topic, state_dir
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.scheduler, self.max_retries, self.warm = scheduler, max_retries, warm
        self.client: Any = None
        self.cluster: Any = None
        self.futures: dict[int, Any] = {}
        self.pruned: dict[int, str | None] = {}      # trial -> worker told to stop it
        self.tid_of: dict[str, int] = {}             # Dask key -> trial
        self.where: dict[int, str | None] = {}       # trial -> worker it last reported from
        self._ac: Any = None
        self._closing = False
        self._cancelled = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._warm_given = threading.Event()
        self.workers_info: dict[str, dict[str, Any]] = {}
        self.allowed: list[str] | None = None         # workers fit to run (None: all)
        if warm is not None:
            self._warm_given.set()
        self.n_slots = self.workers
        self.log_dir = log_dir

    # --- start-up -----------------------------------------------------------------------
    def start(self) -> None:
        """Start (or join) the cluster in a background thread: it overlaps driver start-up.
        Called before the experiment is even loaded, workers boot while the driver imports;
        ``set_warm`` then tells them what to pre-load."""
        if self._thread is None:
            if not self.scheduler and self.workers:
                start_forkserver()              # from this (main) thread, before Dask's
            self._thread = threading.Thread(target=self._start, name="assay-dask-start",
                                            daemon=True)
            self._thread.start()

    def set_warm(self, plugins: tuple[str, ...], run_json: str | None,
                 max_retries: int | None = None) -> None:
        self.warm = (plugins, run_json)
        if max_retries is not None:
            self.max_retries = max_retries
        self._warm_given.set()

    def _start(self) -> None:
        try:
            self._connect()
            self._warm_given.wait()
            if self._closing:
                return
            if self.cluster is not None:            # our own scheduler: our retry budget
                self.client.run_on_scheduler(set_allowed_failures, self.max_retries)
            self.workers_info = self.client.run(warm, *(self.warm or ((), None)))
            self._check_workers()
            threading.Thread(target=self._watch, name="assay-dask-watch", daemon=True).start()
        except BaseException as exc:
            self._error = exc

    def _connect(self) -> None:
        import dask
        from distributed import Client

        dask.config.set({
            **(QUIET_DASK if not self.scheduler else {}),
            "distributed.worker.daemon": False,
            # Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536 (hand freed
            # memory back to the OS at once). torch allocates and frees on every step:
            # a digits-MLP trial ran 1.28x slower with it (0.50 s vs 0.39 s, bench/).
            "distributed.nanny.pre-spawn-environ": {
                k: v for k, v in WORKER_ENV.items() if k.endswith("THREADS")}})
        if self.scheduler:
            self.client = Client(self.scheduler, timeout="30s")
        else:
            self.cluster = local_cluster(self.workers, self.log_dir)
            self.client = Client(self.cluster)
        self.client.subscribe_topic(self.topic, self._on_event)
        info = self.client.scheduler_info()["workers"]
        self.n_slots = max(1, sum(w.get("nthreads", 1) for w in info.values()))

    def _check_workers(self) -> None:
        """Workers that lack a plugin of this experiment, or carry another version of it, get
        no runs (one clear message instead of a failed trial per run)."""
        plugins, run_json = self.warm or ((), None)
        if not run_json:
            return
        expect = expected_plugins(RunSpec.model_validate_json(run_json))
        bad = {addr: mismatches(info, expect) for addr, info in self.workers_info.items()}
        bad = {addr: why for addr, why in bad.items() if why}
        if not bad:
            return
        from assay.errors import UserError

        lines = "\n".join(f"  {addr} ({self.workers_info[addr].get('host', '?')}): "
                          + "; ".join(why) for addr, why in bad.items())
        good = [a for a in self.workers_info if a not in bad]
        if not good:
            raise UserError("no Dask worker can run this experiment:\n" + lines +
                            "\ninstall the same plugins (and versions) on the workers; "
                            "`assay doctor --scheduler ...` shows what each one has")
        info = self.client.scheduler_info()["workers"]
        # by name: a worker its nanny restarts comes back at a new address, same name
        self.allowed = [info[a].get("name", a) if a in info else a for a in good]
        self.n_slots = max(1, sum(info.get(a, {}).get("nthreads", 1) for a in good))
        logging.getLogger("assay").warning(
            "assay: %d worker(s) excluded, they cannot run this experiment:\n%s",
            len(bad), lines)

    def wait_ready(self) -> None:
        if self._thread:
            self._thread.join()
        if self._error is not None:
            from assay.errors import UserError

            where = self.scheduler or "a local cluster"
            raise UserError(f"could not start Dask on {where}: {self._error}") from self._error

    def _watch(self) -> None:
        """Every few seconds, off the driver's thread: a worker that left the cluster gets a
        one-line note (Dask retries its runs elsewhere; without the note that is silent)."""
        known = self._worker_names()
        while not self._closing:
            time.sleep(WATCH_S)
            now = self._worker_names()
            if self._closing or not now:
                continue
            for addr in sorted(set(known) - set(now)):
                self.inbox.put(Message("note", -1, error=(
                    f"worker {known[addr]} ({addr}) left the cluster; its runs are retried on "
                    f"the other workers (up to {self.max_retries} retries per run)")))
            known = now

    def _worker_names(self) -> dict[str, str]:
        try:
            info = self.client.scheduler_info()["workers"]
        except Exception:
            return {}
        return {addr: str(w.get("name", addr)) for addr, w in info.items()}

    # --- runs ---------------------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        _, msg = event
        tid, where = int(msg["tid"]), msg.get("worker")
        self.where[tid] = where
        if tid in self.pruned and self.pruned[tid] != where:   # retried elsewhere: tell again
            self._push_prune(tid, where)
        self.inbox.put(Message("report", int(msg["tid"]), int(msg["step"]), msg["metrics"]))

    def submit(self, tid: int, run: RunSpec, resources: Mapping[str, float] | None = None) -> None:
        fut = self.client.submit(run_task, run.model_dump_json(), tid, self.topic,
                                 self.state_dir, key=f"assay-{self.topic}-{tid}-{run.key}",
                                 pure=False, resources=dict(resources) if resources else None,
                                 workers=self.allowed, allow_other_workers=False)
        self.futures[tid] = fut
        self.tid_of[fut.key] = tid
        self._collector().add(fut)
        self._more.set()

    def _collector(self) -> Any:
        """Results are gathered by Dask's ``as_completed(with_results=True)``: concurrently on
        the client's event loop. (A done-callback that calls ``result()`` gathers one result
        at a time on Dask's single callback thread: ~5 ms more per run here.)"""
        if self._ac is None:
            from distributed import as_completed

            self._ac = as_completed([], with_results=True, raise_errors=False)
            self._more = threading.Event()
            threading.Thread(target=self._collect, name="assay-dask-results", daemon=True).start()
        return self._ac

    def _collect(self) -> None:
        while not self._closing:
            for fut, res in self._ac:
                self._done(fut, res)
            self._more.wait(0.1)
            self._more.clear()

    def _done(self, fut: Any, res: Any) -> None:
        from assay._run.result import RunResult

        tid = self.tid_of.pop(fut.key, None)
        if tid is None or self.futures.get(tid) is not fut:
            return                                   # not ours any more (a rebind)
        self.futures.pop(tid, None)
        try:
            if fut.status == "cancelled" or self._cancelled:
                return
            if fut.status == "error":
                exc = res[1] if isinstance(res, tuple) else res
                kind = type(exc).__name__
                lost = kind == "KilledWorker"
                self.inbox.put(Message("lost" if lost else "result", tid,
                                       result=None if lost else RunResult(
                                           "", "failed", error=f"{kind}: {exc}"),
                                       error=f"{kind}: {exc}"))
                return
            self.inbox.put(Message("result", tid, result=RunResult(**res)))
        except Exception as exc:
            self.inbox.put(Message("lost", tid, error=f"{type(exc).__name__}: {exc}"))

    def rebind(self, inbox: queue.Queue[Message], topic: str) -> None:
        """Serve another driver (one at a time): new inbox, new event topic."""
        self.wait_ready()
        self.inbox, self.topic, self._cancelled = inbox, topic, False
        self.client.subscribe_topic(topic, self._on_event)

    def prune(self, tid: int) -> None:
        """Stop run ``tid`` at its next report: pushed to the worker that reported it."""
        self._push_prune(tid, self.where.get(tid))

    def _push_prune(self, tid: int, where: str | None) -> None:
        self.pruned[tid] = where
        self.client.run(mark_pruned, self.topic, tid, workers=[where] if where else None,
                        wait=False)

    def work(self, on_report: Callable[[Message], None]) -> None:
        pass                                      # runs execute on the workers

    def interrupt(self) -> None:
        pass                                      # ``cancel`` follows from the driver's loop

    def cancel(self) -> None:
        """Drop every run: cancel its future and tell its worker to stop at the next report
        (a task already running is not interrupted by Dask's cancel)."""
        self._cancelled = True
        if self.client is None:
            return
        for tid, fut in list(self.futures.items()):
            fut.cancel()
            try:
                self._push_prune(tid, self.where.get(tid))
            except Exception:
                pass

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._warm_given.set()
        if self._thread is not None:
            self._thread.join()
        try:
            for fut in list(self.futures.values()):
                fut.cancel()
            if self.client is not None:
                self.client.close(timeout=10)
            if self.cluster is not None:
                self.cluster.close(timeout=10)
        except Exception:
            pass
