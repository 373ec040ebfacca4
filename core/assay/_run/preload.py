"""Imported once in the forkserver that local Dask workers are forked from.

Each worker used to import torch, its lazily loaded parts (torch._dynamo, which building the
first optimizer pulls in) and every plugin by itself: ~4 s of CPU per worker, on the same
cores the driver was starting on. The forkserver imports them once; workers fork from it with
all of it in memory. (scikit-learn is not imported: digits are read from its CSV directly.)
No torch op runs here: the server stays single-threaded (torch threads set to 1 before any
op), so forking it is safe.
"""
from __future__ import annotations

import contextlib
import os

os.environ["ASSAY_WORKER"] = "1"

import torch  # noqa: E402

torch.set_num_threads(1)

with contextlib.suppress(Exception):
    import torch._dynamo  # noqa: F401  (torch.optim imports it on first use: ~1.5 s)

import assay._run.loop  # noqa: E402,F401
from assay._plugins.registry import registry  # noqa: E402

with contextlib.suppress(Exception):
    registry(())                  # every installed plugin, imported (not the --plugin files)
