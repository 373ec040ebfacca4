"""Optuna sweeps on Dask, recorded in MLflow. The driver owns all state.

Optuna (ask/tell, sampler in memory, study in a journal file beside the MLflow store or in a
shared database) decides what to run; Dask decides where; MLflow records it. Runs are keyed
by content: a key that finished before (in any sweep, law or claim on this store) is reused,
not re-run, and its trial's child run links to the original. The package, by job:

- ``driver``: the submit/pump loop (ask, flush, create runs, submit; reports to the pruner,
  results to the writer, tell once written);
- ``ledger``: the typed per-trial state of the loop;
- ``journal``: where the study lives; ``lock``: one driver per study, across machines;
- ``parent``: the study's MLflow parent run; ``resume``: starting again after a kill or a
  signal (the sampler's stream continues, stale trials settled from MLflow);
- ``model``: the result dataclasses; ``report``: progress, notes, summary, plots;
- ``cli``: ``assay sweep`` and ``run_sweep``.

Resume: re-running the same command continues the study. A signal (SIGTERM, SIGINT) stops a
sweep cleanly: running trials are marked preempted (Optuna: FAIL with
``assay_status=preempted``; MLflow: KILLED) and asked again, with the same parameters, by the
next run; a kill -9 leaves them for the next start-up to mark.
"""
from __future__ import annotations

from assay._drive.sweep.cli import run_sweep, run_sweep_cli
from assay._drive.sweep.driver import Driver
from assay._drive.sweep.journal import study_storage
from assay._drive.sweep.model import SweepResult, TrialRecord

__all__ = ["Driver", "SweepResult", "TrialRecord", "run_sweep", "run_sweep_cli",
           "study_storage"]
