"""Code that runs ON Dask workers (and one function on the scheduler), nothing else.

Dask pickles these functions by reference, so a worker imports this module and what it needs
at call time: the loop (``assay._run``), the plugins, torch. Nothing here imports the driver's
side (Optuna, MLflow, the executor).
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from assay._dispatch.admission import expected_plugins, mismatches
from assay.spec import RunSpec

_PRUNED: set[tuple[str, int]] = set()   # (topic, trial) the driver said to stop, per worker


def init_state(run: RunSpec, state_dir: str | None) -> Any:
    """The pretrained weights ``run`` starts from (weights only: no code is unpickled)."""
    if not run.init_from:
        return None
    import torch

    path = os.path.join(state_dir or "", f"{run.init_from}.pt")
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights of run {run.init_from} not found at {path}")
    return torch.load(path, map_location="cpu", weights_only=True)


async def mark_pruned(topic: str, tid: int) -> None:
    """The driver's "stop" for one run (``client.run``, on the worker's event loop:
    fire-and-forget needs a coroutine): that run's next report returns True."""
    _PRUNED.add((topic, tid))


def run_task(run_json: str, tid: int, topic: str, state_dir: str | None) -> dict[str, Any]:
    """One RunSpec to its end. Reports are fire-and-forget events; the pruning check is a set
    lookup (the driver pushes its decision to this process), so a report costs the run no
    round trip."""
    from distributed import get_worker

    from assay._run.loop import execute

    os.environ["ASSAY_WORKER"] = "1"
    run = RunSpec.model_validate_json(run_json)
    worker = get_worker()

    def report(step: int, metrics: Mapping[str, float]) -> bool:
        worker.log_event(topic, {"tid": tid, "step": step, "metrics": dict(metrics),
                                 "worker": worker.address})
        return (topic, tid) in _PRUNED

    result = execute(run, report, init_state=init_state(run, state_dir))
    _PRUNED.discard((topic, tid))
    return dataclasses.asdict(result)


def worker_info(plugins: tuple[str, ...] = ()) -> dict[str, Any]:
    """What a worker process carries: assay, plugins and their versions, torch, devices."""
    import platform
    import socket
    import sys

    from assay._plugins.registry import registry
    from assay._version import __version__

    reg = registry(plugins)
    info: dict[str, Any] = {
        "host": socket.gethostname(), "python": platform.python_version(), "assay": __version__,
        "plugins": {name: p.version for name, p in reg.plugins.items()},
        "broken": dict(reg.broken), "executable": sys.executable}
    try:
        import torch

        # a plain str (torch's version is a subclass): the driver reads it without torch
        info["torch"] = str(torch.__version__)
        info["cuda_devices"] = torch.cuda.device_count() if torch.cuda.is_available() else 0
        info["cuda_visible"] = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    except ImportError:
        info["torch"] = ""
    return info


def warm(plugins: tuple[str, ...], run_json: str | None) -> dict[str, Any]:
    """Worker start-up off the critical path: import torch, load plugins, build the data,
    and take one training step of the experiment. That step pulls in what torch imports
    lazily on first use (the optimizer's and the FLOP counter's dependencies, sympy among
    them): ~2 s that the first trial on each worker paid before. Returns ``worker_info``."""
    os.environ["ASSAY_WORKER"] = "1"
    import torch

    from assay._plugins.registry import registry
    from assay._run.loop import execute, load_data

    torch.set_num_threads(1)
    reg = registry(plugins)
    info = worker_info(plugins)
    if run_json and not mismatches(info, expected_plugins(RunSpec.model_validate_json(run_json))):
        try:
            run = RunSpec.model_validate_json(run_json)
            load_data(reg, run)
            one = run.train.model_copy(update={"steps": 1, "eval_every": 1})
            execute(run.model_copy(update={"train": one, "pretrain": None}))
        except Exception:
            pass
    return info


def set_allowed_failures(n: int, dask_scheduler: Any = None) -> None:
    """On the scheduler: how many times a run whose worker died is retried elsewhere."""
    dask_scheduler.allowed_failures = n
