"""Imported once in the forkserver that local Dask workers are forked from.

Each worker used to import Dask, torch, its lazily loaded parts (torch._dynamo, which
building the first optimizer pulls in) and every plugin by itself: ~4 s of CPU per worker, on
the same cores the driver was starting on. The forkserver imports them once; workers fork
from it with all of it in memory. (scikit-learn is not imported: digits are read from its CSV
directly.) No torch op runs here: the server stays single-threaded (torch threads set to 1
before any op), so forking it is safe.

Cyclic garbage collection is off while these imports run (each full collection walks the
growing heap: ~0.5 s of the server's start-up, bench/README.md) and the heap is frozen at
the end (``gc.freeze``, as Python's documentation advises before fork): the workers'
collections skip everything imported here.
"""
from __future__ import annotations

import contextlib
import gc
import os

gc.disable()
try:
    os.environ["ASSAY_WORKER"] = "1"

    import distributed  # noqa: F401  (workers are Dask workers)
    import torch

    torch.set_num_threads(1)

    with contextlib.suppress(Exception):
        import torch._dynamo

    import assay._run.loop  # noqa: F401
    from assay._plugins.registry import registry

    with contextlib.suppress(Exception):
        registry(())              # every installed plugin, imported (not the --plugin files)
finally:
    gc.freeze()
    gc.enable()
