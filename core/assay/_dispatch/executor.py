"""Where runs execute: inline in the driver, or on Dask (a local cluster by default).

Workers are pure functions of a RunSpec. They stream each evaluation back to the driver
(Dask structured events, fire-and-forget); when Optuna's pruner says stop, the driver pushes
the decision to that worker process (``client.run``) and the run's next report returns True.
The final RunResult comes back as the task's result, gathered by ``as_completed``. Every
message lands in one thread-safe queue the driver reads from.

The local cluster: a scheduler in its own process, nannies in the driver, single-threaded
worker processes forked from a server that imported torch and the plugins once. Workers are
checked at warm-up (plugins and versions against the driver's) before any run is sent.
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

from assay._experiment.resolve import RunSpec


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
        from assay._run.loop import execute

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


_PRUNED: set[tuple[str, int]] = set()   # (topic, trial) the driver said to stop, per worker


async def _mark_pruned(topic: str, tid: int) -> None:
    """Runs in a worker process (``client.run``, on its event loop: fire-and-forget needs a
    coroutine): the next report of that run says stop."""
    _PRUNED.add((topic, tid))


def _dask_task(run_json: str, tid: int, topic: str, state_dir: str | None) -> dict[str, Any]:
    """Runs on a Dask worker: one RunSpec to its end. Reports are fire-and-forget events; the
    pruning check is a set lookup (the driver pushes its decision to this process), so a
    report costs the run no round trip."""
    from distributed import get_worker

    from assay._run.loop import execute

    os.environ["ASSAY_WORKER"] = "1"
    run = RunSpec.model_validate_json(run_json)
    worker = get_worker()

    def report(step: int, metrics: Mapping[str, float]) -> bool:
        worker.log_event(topic, {"tid": tid, "step": step, "metrics": dict(metrics),
                                 "worker": worker.address})
        return (topic, tid) in _PRUNED

    result = execute(run, report, init_state=_init_state(run, state_dir))
    _PRUNED.discard((topic, tid))
    return dataclasses.asdict(result)


def worker_info(plugins: tuple[str, ...] = ()) -> dict[str, Any]:
    """What a worker process carries: assay, plugins and their versions, torch, devices."""
    import platform
    import socket
    import sys

    from assay._version import __version__
    from assay._plugins.registry import registry

    reg = registry(plugins)
    info: dict[str, Any] = {
        "host": socket.gethostname(), "python": platform.python_version(), "assay": __version__,
        "plugins": {name: p.version for name, p in reg.plugins.items()},
        "broken": dict(reg.broken), "executable": sys.executable}
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda_devices"] = torch.cuda.device_count() if torch.cuda.is_available() else 0
        info["cuda_visible"] = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    except ImportError:
        info["torch"] = ""
    return info


def expected_plugins(run: RunSpec) -> dict[str, str]:
    """plugin -> version that a run's components come from (``RunSpec.versions``)."""
    out = {"builtin": run.versions.get("assay", "")}
    for value in run.versions.values():
        if "==" in value:
            name, version = value.split("==", 1)
            out[name] = version
    return out


def mismatches(info: Mapping[str, Any], expect: Mapping[str, str]) -> list[str]:
    """Why a worker cannot run these runs ([] when it can)."""
    problems = []
    have = info.get("plugins", {})
    for name, version in sorted(expect.items()):
        if name not in have:
            why = info.get("broken", {}).get(name)
            problems.append(f"plugin {name!r} " + (f"fails to import: {why}" if why else
                                                   "is not installed"))
        elif version and have[name] != version:
            problems.append(f"plugin {name!r} is {have[name]} (driver: {version})")
    return problems


def _warm(plugins: tuple[str, ...], run_json: str | None) -> dict[str, Any]:
    """Worker start-up off the critical path: import torch, load plugins, build the data,
    and take one training step of the experiment. That step pulls in what torch imports
    lazily on first use (the optimizer's and the FLOP counter's dependencies, sympy among
    them): ~2 s that the first trial on each worker paid before. Returns ``worker_info``."""
    os.environ["ASSAY_WORKER"] = "1"
    import torch

    from assay._run.loop import execute, load_data
    from assay._plugins.registry import registry

    torch.set_num_threads(1)
    reg = registry(plugins)
    info = worker_info(plugins)
    if run_json and not mismatches(info, expected_plugins(RunSpec.model_validate_json(run_json))):
        try:
            run = RunSpec.model_validate_json(run_json)
            load_data(reg, run)
            one = run.train.model_copy(update={"steps": 1, "eval_every": 1})
            execute(run.model_copy(update={"train": one, "pretrain": None}))
        except Exception:  # noqa: BLE001 - the real run will report it properly
            pass
    return info


def _die_with_parent() -> None:
    """In the scheduler's process before exec: on Linux, die when the driver does (a killed
    driver must not leave a scheduler behind). Elsewhere the scheduler's idle timeout ends it."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def _set_allowed_failures(n: int, dask_scheduler: Any = None) -> None:
    """On the scheduler: how many times a run whose worker died is retried elsewhere."""
    dask_scheduler.allowed_failures = n


def local_gpus() -> int:
    """GPUs on this machine, counted without initialising CUDA in the driver."""
    import shutil
    import subprocess

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if not shutil.which("nvidia-smi"):
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in out.stdout.splitlines())


def gpu_plan(n_workers: int, n_gpus: int, visible: str | None = None) -> list[dict[str, Any]]:
    """One device per worker: worker i < n_gpus sees only GPU i (CUDA_VISIBLE_DEVICES) and
    offers the Dask resource ``GPU=1``, so a run asking ``{"GPU": 1}`` gets a device of its
    own; the other workers see no GPU and take CPU runs."""
    ids = [d.strip() for d in visible.split(",")] if visible else [str(i) for i in range(n_gpus)]
    plan = []
    for i in range(n_workers):
        if i < n_gpus:
            plan.append({"env": {"CUDA_VISIBLE_DEVICES": ids[i]}, "resources": {"GPU": 1}})
        else:
            plan.append({"env": {"CUDA_VISIBLE_DEVICES": ""} if n_gpus else {},
                         "resources": {}})
    return plan


# What Dask's nannies put in the environment before they start a worker process. Workers
# fork from the forkserver, so the server must be started with it too.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "PYTHONHASHSEED": "6640", "ASSAY_WORKER": "1"}


# Dask's housekeeping, made coarser for our own cluster. Every Dask server (scheduler,
# nanny, worker) runs a 20 ms event-loop health tick and a 500 ms system monitor; each worker
# also samples its threads' stacks every 10 ms for the dashboard's profile page and checks
# its memory every 100 ms. On a 2-core machine where the workers are the load, all of that
# wakes up between (and, the profiler, inside) trials.
QUIET_DASK = {"distributed.admin.tick.interval": "500ms",
              "distributed.admin.system-monitor.interval": "2s",
              "distributed.worker.profile.enabled": False,
              "distributed.worker.memory.monitor-interval": "500ms"}


def _dask_env(config: Mapping[str, Any]) -> dict[str, str]:
    """The same settings as DASK_* environment variables (for a process we start)."""
    return {"DASK_" + k.upper().replace(".", "__").replace("-", "_"): str(v)
            for k, v in config.items()}


def _start_method() -> str | None:
    import multiprocessing

    method = os.environ.get("ASSAY_WORKER_START", "forkserver")
    return method if method in multiprocessing.get_all_start_methods() else None


def start_forkserver() -> None:
    """Start the server local workers fork from, now: it imports torch and the plugins
    (``assay._run.preload``, ~4 s of CPU) on the second core while the driver loads the
    experiment and opens MLflow on the first, instead of after Dask's scheduler is up.
    Call it early, while the driver is still single-threaded (the server is spawned with
    the workers' environment). Idempotent; ASSAY_WORKER_START=spawn turns it off."""
    if _start_method() != "forkserver":
        return
    import multiprocessing
    from multiprocessing import forkserver

    if getattr(forkserver._forkserver, "_forkserver_pid", None):
        return
    multiprocessing.get_context("forkserver").set_forkserver_preload(
        ["distributed", "assay._run.preload"])
    saved = {k: os.environ.get(k) for k in WORKER_ENV}
    os.environ.update(WORKER_ENV)
    try:
        forkserver.ensure_running()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _forkserver_with_torch() -> None:
    """Local workers fork from a server that has imported torch and the plugins once
    (``assay._run.preload``) instead of each importing them: ~4 s less CPU per worker at start.
    Dask's own forkserver set-up would import numpy and pandas into the driver (~1 s) to
    preload them; ours preloads what workers use. ASSAY_WORKER_START=spawn goes back to
    Dask's default."""
    import dask

    method = _start_method()
    if method is None:
        return
    dask.config.set({"distributed.worker.multiprocessing-method": method})
    if method == "forkserver":
        import distributed.utils

        start_forkserver()
        distributed.utils._forkserver_preload_set = True   # skip Dask's preload imports


def _local_cluster(n_workers: int, log_dir: str | None) -> Any:
    """A local cluster whose scheduler runs in its own process.

    ``LocalCluster`` runs the scheduler (and its dashboard) on the driver's event loop, where
    it competes for the driver's GIL with Optuna, the MLflow writer and the Dask client: a
    no-op trial cost ~28 ms there against ~19 ms with the scheduler in a process of its own
    (bench/sweep_overhead.py). The nannies stay in the driver (they are light) and restart a
    worker process that dies; workers are single-threaded processes as before.
    """
    from distributed import Nanny, SpecCluster
    from distributed.deploy.subprocess import SubprocessScheduler

    class Scheduler(SubprocessScheduler):
        async def _start(self) -> None:  # as Dask's, with the log in a file, not a pipe
            import asyncio
            import json
            import sys
            import tempfile
            from pathlib import Path

            log = Path(log_dir or tempfile.gettempdir()) / f"dask-scheduler-{os.getpid()}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, "-m", "dask", "spec", "--spec",
                   json.dumps({"cls": "distributed.Scheduler", "opts": self.scheduler_kwargs})]
            env = {**os.environ,
                   "DASK_DISTRIBUTED__SCHEDULER__IDLE_TIMEOUT": "1 hour",  # a last resort
                   "DASK_LOGGING__DISTRIBUTED": "warning", **_dask_env(QUIET_DASK)}
            with open(log, "ab") as err:
                self.process = await asyncio.create_subprocess_exec(
                    *cmd, stderr=err, env=env, preexec_fn=_die_with_parent)
            path = Path(self.scheduler_kwargs["scheduler_file"])
            for _ in range(self.timeout * 20):
                if self.process.returncode is not None:
                    raise RuntimeError(f"the Dask scheduler exited ({self.process.returncode});"
                                       f" see {log}")
                try:
                    self.address = json.loads(path.read_text())["address"]
                    return
                except (OSError, ValueError, KeyError):
                    await asyncio.sleep(0.05)
            raise RuntimeError(f"the Dask scheduler did not start in {self.timeout}s; see {log}")

    _forkserver_with_torch()
    opts = {"nthreads": 1, "host": "127.0.0.1", "silence_logs": logging.ERROR,
            "env": {"ASSAY_WORKER": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}}
    workers = {}
    for i, pin in enumerate(gpu_plan(n_workers, local_gpus(),
                                     os.environ.get("CUDA_VISIBLE_DEVICES"))):
        workers[i] = {"cls": Nanny, "options": {**opts, "env": {**opts["env"], **pin["env"]},
                                                "resources": pin["resources"]}}
    sched = {"cls": Scheduler, "options": {"scheduler_kwargs": {
        "host": "127.0.0.1", "port": 0, "dashboard": True, "dashboard_address": "127.0.0.1:0"}}}
    return SpecCluster(workers=workers, scheduler=sched, worker={"cls": Nanny, "options": opts},
                       silence_logs=logging.ERROR, name="assay")


class DaskExecutor:
    """Dask: a LocalCluster of single-threaded worker processes, or an existing scheduler."""

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
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._warm_given = threading.Event()
        self.workers_info: dict[str, dict[str, Any]] = {}
        self.allowed: list[str] | None = None         # workers fit to run (None: all)
        if warm is not None:
            self._warm_given.set()
        self.n_slots = self.workers
        self.log_dir = log_dir

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
                self.cluster = _local_cluster(self.workers, self.log_dir)
                self.client = Client(self.cluster)
            self.client.subscribe_topic(self.topic, self._on_event)
            info = self.client.scheduler_info()["workers"]
            self.n_slots = max(1, sum(w.get("nthreads", 1) for w in info.values()))
            self._warm_given.wait()
            if self._closing:
                return
            if self.cluster is not None:            # our own scheduler: our retry budget
                self.client.run_on_scheduler(_set_allowed_failures, self.max_retries)
            self.workers_info = self.client.run(_warm, *(self.warm or ((), None)))
            self._check_workers()
        except BaseException as exc:  # noqa: BLE001 - re-raised in wait_ready
            self._error = exc

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

    def _on_event(self, event: Any) -> None:
        _, msg = event
        tid, where = int(msg["tid"]), msg.get("worker")
        self.where[tid] = where
        if tid in self.pruned and self.pruned[tid] != where:   # retried elsewhere: tell again
            self._push_prune(tid, where)
        self.inbox.put(Message("report", int(msg["tid"]), int(msg["step"]), msg["metrics"]))

    def submit(self, tid: int, run: RunSpec, resources: Mapping[str, float] | None = None) -> None:
        fut = self.client.submit(_dask_task, run.model_dump_json(), tid, self.topic,
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
        from assay._run.loop import RunResult

        tid = self.tid_of.pop(fut.key, None)
        if tid is None or self.futures.get(tid) is not fut:
            return                                   # not ours any more (a rebind)
        self.futures.pop(tid, None)
        try:
            if fut.status == "cancelled":
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
        except Exception as exc:  # noqa: BLE001
            self.inbox.put(Message("lost", tid, error=f"{type(exc).__name__}: {exc}"))

    def rebind(self, inbox: queue.Queue[Message], topic: str) -> None:
        """Serve another driver (one at a time): new inbox, new event topic."""
        self.wait_ready()
        self.inbox, self.topic = inbox, topic
        self.client.subscribe_topic(topic, self._on_event)

    def prune(self, tid: int) -> None:
        """Stop run ``tid`` at its next report: pushed to the worker that reported it."""
        self._push_prune(tid, self.where.get(tid))

    def _push_prune(self, tid: int, where: str | None) -> None:
        self.pruned[tid] = where
        self.client.run(_mark_pruned, self.topic, tid, workers=[where] if where else None,
                        wait=False)

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
        except Exception:  # noqa: BLE001 - shutting down; nothing to save here
            pass


def start_early(workers: int | None, scheduler: str | None, root: Any,
                kind: str) -> DaskExecutor | None:
    """A command's Dask executor, started before its experiment loads, so that workers boot
    while the driver imports (``set_warm`` follows the load). None for ``--workers 0``."""
    if workers == 0:
        return None
    ex = DaskExecutor(queue.Queue(), workers=workers, scheduler=scheduler,
                      topic=f"assay-{os.getpid()}-{kind}", warm=None,
                      state_dir=str(root / "states"), log_dir=str(root / "logs"))
    ex.start()
    return ex
