"""A plugin file for ``bench/first_trial.py``: when a run starts training (``assay_run_start``,
called on the worker once model, data and methods are built), append the time to the file
named by ``ASSAY_BENCH_PROBE``. It registers nothing and imports nothing heavy."""
from __future__ import annotations

import os
import time

from assay import hookimpl


@hookimpl
def assay_run_start(run: object) -> None:
    path = os.environ.get("ASSAY_BENCH_PROBE")
    if path:
        with open(path, "a") as f:
            f.write(f"{time.time()}\n")
