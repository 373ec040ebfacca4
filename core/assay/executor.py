"""Where runs execute: inline in the driver, or on Dask (a LocalCluster by default).

Workers are pure functions of a RunSpec. They stream each evaluation back to the driver
(Dask structured events, fire-and-forget) and check a per-run Dask ``Event`` that the driver
sets when Optuna's pruner says stop. The final RunResult comes back as the task's result.
Every message lands in one thread-safe queue the driver reads from.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assay.spec import RunSpec


@dataclass
class Message:
    kind: str                     # report | result | lost | written
    tid: int
    step: int = 0
    metrics: Mapping[str, float] | None = None
    result: Any = None            # RunResult for "result"
    error: str = ""


def _init_state(run: RunSpec, state_dir: str | None) -> Any:
    if not run.init_from:
        return None
    import torch

    path = os.path.join(state_dir or "", f"{run.init_from}.pt")
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights of run {run.init_from} not found at {path}")
    return torch.load(path, map_location="cpu", weights_only=True)


class InlineExecutor:
    """Runs in the driver process, one at a time (``--workers 0``): for debugging."""

    def __init__(self, inbox: queue.Queue[Message], state_dir: str | None = None) -> None:
        self.inbox, self.state_dir = inbox, state_dir
        self.pending: list[tuple[int, RunSpec]] = []
        self.pruned: set[int] = set()
        self.n_slots = 1

    def start(self) -> None:
        pass

    def wait_ready(self) -> None:
        pass

    def rebind(self, inbox: queue.Queue[Message], topic: str) -> None:
        self.inbox = inbox

    def submit(self, tid: int, run: RunSpec, resources: Mapping[str, float] | None = None) -> None:
        self.pending.append((tid, run))

    def prune(self, tid: int) -> None:
        self.pruned.add(tid)

    def step(self, on_report: Any) -> None:
        """Run the next pending run to its end; reports go straight to ``on_report``."""
        from assay.loop import execute

        if not self.pending:
            return
        tid, run = self.pending.pop(0)

        def report(step: int, metrics: Mapping[str, float]) -> bool:
            on_report(Message("report", tid, step, dict(metrics)))
            return tid in self.pruned

        result = execute(run, report, init_state=_init_state(run, self.state_dir))
        self.inbox.put(Message("result", tid, result=result))

    def close(self) -> None:
        pass


def _dask_task(run_json: str, tid: int, topic: str, state_dir: str | None) -> dict[str, Any]:
    """Runs on a Dask worker: one RunSpec to its end."""
    from distributed import Event, get_worker

    from assay.loop import execute

    os.environ["ASSAY_WORKER"] = "1"
    run = RunSpec.model_validate_json(run_json)
    worker = get_worker()
    stop = Event(f"{topic}-prune-{tid}")

    def report(step: int, metrics: Mapping[str, float]) -> bool:
        worker.log_event(topic, {"tid": tid, "step": step, "metrics": dict(metrics)})
        return bool(stop.is_set())

    result = execute(run, report, init_state=_init_state(run, state_dir))
    return dataclasses.asdict(result)


def _warm(plugins: tuple[str, ...], run_json: str | None) -> str:
    """Worker start-up off the critical path: import torch, load plugins, build the data."""
    os.environ["ASSAY_WORKER"] = "1"
    import torch

    from assay.loop import load_data
    from assay.plugins import registry

    torch.set_num_threads(1)
    reg = registry(plugins)
    if run_json:
        try:
            load_data(reg, RunSpec.model_validate_json(run_json))
        except Exception:  # noqa: BLE001 - the real run will report it properly
            pass
    return "ok"


class DaskExecutor:
    """Dask: a LocalCluster of single-threaded worker processes, or an existing scheduler."""

    def __init__(self, inbox: queue.Queue[Message], *, workers: int | None = None,
                 scheduler: str | None = None, topic: str = "assay", max_retries: int = 2,
                 state_dir: str | None = None, warm: tuple[tuple[str, ...], str | None] = ((), None)
                 ) -> None:
        self.inbox, self.topic, self.state_dir = inbox, topic, state_dir
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.scheduler, self.max_retries, self.warm = scheduler, max_retries, warm
        self.client: Any = None
        self.cluster: Any = None
        self.futures: dict[int, Any] = {}
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.n_slots = self.workers

    def start(self) -> None:
        """Start (or join) the cluster in a background thread: it overlaps driver start-up."""
        self._thread = threading.Thread(target=self._start, name="assay-dask-start", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            import dask
            from distributed import Client, LocalCluster

            dask.config.set({"distributed.scheduler.allowed-failures": self.max_retries,
                             "distributed.worker.daemon": False})
            if self.scheduler:
                self.client = Client(self.scheduler, timeout="30s")
            else:
                self.cluster = LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address="127.0.0.1:0",  # loopback only
                    silence_logs=logging.ERROR,
                    env={"ASSAY_WORKER": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
                self.client = Client(self.cluster)
            self.client.subscribe_topic(self.topic, self._on_event)
            info = self.client.scheduler_info()["workers"]
            self.n_slots = max(1, sum(w.get("nthreads", 1) for w in info.values()))
            self.client.run(_warm, *self.warm)
        except BaseException as exc:  # noqa: BLE001 - re-raised in wait_ready
            self._error = exc

    def wait_ready(self) -> None:
        if self._thread:
            self._thread.join()
        if self._error is not None:
            from assay.errors import UserError

            where = self.scheduler or "a local cluster"
            raise UserError(f"could not start Dask on {where}: {self._error}") from self._error

    def _on_event(self, event: Any) -> None:
        _, msg = event
        self.inbox.put(Message("report", int(msg["tid"]), int(msg["step"]), msg["metrics"]))

    def submit(self, tid: int, run: RunSpec, resources: Mapping[str, float] | None = None) -> None:
        fut = self.client.submit(_dask_task, run.model_dump_json(), tid, self.topic,
                                 self.state_dir, key=f"assay-{self.topic}-{tid}-{run.key}",
                                 pure=False, resources=dict(resources) if resources else None)
        self.futures[tid] = fut
        fut.add_done_callback(lambda f, tid=tid: self._done(tid, f))

    def _done(self, tid: int, fut: Any) -> None:
        from assay.loop import RunResult

        self.futures.pop(tid, None)
        try:
            if fut.status == "cancelled":
                return
            exc = fut.exception()
            if exc is not None:
                kind = type(exc).__name__
                lost = kind == "KilledWorker"
                self.inbox.put(Message("lost" if lost else "result", tid,
                                       result=None if lost else RunResult(
                                           "", "failed", error=f"{kind}: {exc}"),
                                       error=f"{kind}: {exc}"))
                return
            self.inbox.put(Message("result", tid, result=RunResult(**fut.result())))
        except Exception as exc:  # noqa: BLE001
            self.inbox.put(Message("lost", tid, error=f"{type(exc).__name__}: {exc}"))

    def rebind(self, inbox: queue.Queue[Message], topic: str) -> None:
        """Serve another driver (one at a time): new inbox, new event topic."""
        self.wait_ready()
        self.inbox, self.topic = inbox, topic
        self.client.subscribe_topic(topic, self._on_event)

    def prune(self, tid: int) -> None:
        from distributed import Event

        Event(f"{self.topic}-prune-{tid}", client=self.client).set()

    def close(self) -> None:
        try:
            for fut in list(self.futures.values()):
                fut.cancel()
            if self.client is not None:
                self.client.close(timeout=10)
            if self.cluster is not None:
                self.cluster.close(timeout=10)
        except Exception:  # noqa: BLE001 - shutting down; nothing to save here
            pass


