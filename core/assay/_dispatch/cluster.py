"""The local Dask cluster: a scheduler in its own process, nannies in the driver, and
single-threaded worker processes forked from a server that imported torch and the plugins
once. Also the GPU plan (one device per worker) and Dask's housekeeping settings."""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

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
    multiprocessing.get_context("forkserver").set_forkserver_preload(["assay._run.preload"])
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


def _scheduler_class(log_dir: str | None) -> type:
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

    return Scheduler


def local_cluster(n_workers: int, log_dir: str | None) -> Any:
    """A local cluster whose scheduler runs in its own process.

    ``LocalCluster`` runs the scheduler (and its dashboard) on the driver's event loop, where
    it competes for the driver's GIL with Optuna, the MLflow writer and the Dask client: a
    no-op trial cost ~28 ms there against ~19 ms with the scheduler in a process of its own
    (bench/sweep_overhead.py). The nannies stay in the driver (they are light) and restart a
    worker process that dies; workers are single-threaded processes as before.
    """
    from distributed import Nanny, SpecCluster

    _forkserver_with_torch()
    opts = {"nthreads": 1, "host": "127.0.0.1", "silence_logs": logging.ERROR,
            "env": {"ASSAY_WORKER": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}}
    workers = {}
    for i, pin in enumerate(gpu_plan(n_workers, local_gpus(),
                                     os.environ.get("CUDA_VISIBLE_DEVICES"))):
        workers[i] = {"cls": Nanny, "options": {**opts, "env": {**opts["env"], **pin["env"]},
                                                "resources": pin["resources"]}}
    sched = {"cls": _scheduler_class(log_dir), "options": {"scheduler_kwargs": {
        "host": "127.0.0.1", "port": 0, "dashboard": True, "dashboard_address": "127.0.0.1:0"}}}
    return SpecCluster(workers=workers, scheduler=sched, worker={"cls": Nanny, "options": opts},
                       silence_logs=logging.ERROR, name="assay")
