"""Where runs execute: the one factory every program uses.

The dispatch stage, module by module:
- ``base``: the ``Executor`` interface and the ``Message`` executors send the driver;
- ``inline``: runs in the driver's process, one at a time (``--workers 0``);
- ``dask_executor``: the driver's side of Dask (submit, gather, prune, lost workers);
- ``cluster``: the local cluster (scheduler process, forkserver, one GPU per worker);
- ``worker``: the code that runs ON workers (the task, warm-up, the pruning flag);
- ``admission``: which workers may run an experiment (plugins and versions).
"""
from __future__ import annotations

import os
import queue
import uuid
from pathlib import Path

from assay._dispatch.admission import expected_plugins, mismatches
from assay._dispatch.base import Executor, Message
from assay._dispatch.cluster import gpu_plan, local_gpus
from assay._dispatch.dask_executor import DaskExecutor
from assay._dispatch.inline import InlineExecutor
from assay._dispatch.worker import worker_info

# Names callers outside the dispatch stage import from here (doctor, tests).
__all__ = ["DaskExecutor", "Executor", "InlineExecutor", "Message", "expected_plugins",
           "gpu_plan", "local_gpus", "make_executor", "mismatches", "worker_info"]

Warm = tuple[tuple[str, ...], "str | None"]


def make_executor(workers: int | None, scheduler: str | None = None,
                  root: str | Path | None = None, *, kind: str = "run",
                  warm: Warm | None = ((), None), max_retries: int = 2,
                  start: bool = True) -> Executor:
    """An executor: inline for ``workers == 0``, else Dask (a local cluster of ``workers``
    processes, default one per core, or the scheduler at ``scheduler``).

    ``root`` is the store's folder (pretrained weights under ``states/``, the local
    scheduler's log under ``logs/``). ``warm`` is what workers pre-load (plugin sources and a
    run's JSON); None means ``set_warm`` follows, for a command that starts its workers
    before its experiment is loaded. ``start=False`` leaves starting to the caller.
    """
    state_dir = str(Path(root) / "states") if root is not None else None
    if workers == 0:
        return InlineExecutor(queue.Queue(), state_dir)
    # A topic of its own: drivers on one shared scheduler never see each other's reports
    # (process ids repeat across machines and containers).
    topic = f"assay-{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    ex = DaskExecutor(queue.Queue(), workers=workers, scheduler=scheduler, topic=topic,
                      max_retries=max_retries, state_dir=state_dir, warm=warm,
                      log_dir=str(Path(root) / "logs") if root is not None else None)
    if start:
        ex.start()
    return ex

