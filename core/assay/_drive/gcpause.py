"""Cyclic garbage collection while a command starts up, and at its exit.

CPython's cyclic collector runs a full collection whenever enough new objects have outlived
the younger generations. While a driver imports MLflow, Optuna and Dask (hundreds of
thousands of objects, all of them kept) it runs several, each walking a larger heap than the
last; at exit it walks the whole heap once more. Measured here (bench/README.md, session 7):
importing MLflow, Optuna and Dask took 2.8 s with collection on and 2.2 s with it off, and a
sweep's interpreter shutdown 1.0 s against 0.15 s with the heap frozen.

So the ``assay`` command, when it owns its process (``main()`` from the console script, not
``main(argv)`` in a test or a notebook), pauses collection for a sweep's or a law's start-up.
The driver resumes it when its trial loop begins, after ``gc.freeze()`` has moved everything
loaded so far into the permanent generation, which later collections skip. At exit,
collection is switched off and the heap frozen, so shutdown does not walk it. Objects are
still freed by reference counting throughout; only reference cycles created during start-up
wait for the loop (or, at exit, are left to the process's end, which CPython does not
promise to collect either). The worker forkserver does the same around its imports
(``assay._run.preload``), as Python's ``gc.freeze`` documentation recommends before fork.
"""
from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Stop cyclic collection until ``resume`` (a no-op when it is already off)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """After ``pause``: freeze what start-up loaded and collect again. Otherwise a no-op, so
    a driver run from Python (``assay.sweep()``) leaves its caller's collector alone."""
    global _paused
    if _paused:
        gc.freeze()
        gc.enable()
        _paused = False


def at_exit() -> None:
    """The process is about to end: no more collections, and none over the heap at shutdown."""
    gc.disable()
    gc.freeze()
