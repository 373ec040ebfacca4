"""assay: ML research methods as plugins; sweeps on Dask with Optuna; everything in MLflow.

The public API is this list; everything else is private.
"""
from __future__ import annotations

from assay.claims import Claim, Metrics, Verdict
from assay.errors import UserError
from assay.hookspecs import hookimpl
from assay.kinds import (
    Adapter, Backend, Config, Data, Dataset, DataSelection, Loss, Method, Model, Optimizer,
    Paper, Parameterization, Pruning, Schedule, Study, Trainer,
)

__version__ = "0.1.0"

__all__ = [
    "Adapter", "Backend", "Claim", "Config", "Data", "DataSelection", "Dataset", "Loss",
    "Method", "Metrics", "Model", "Optimizer", "Paper", "Parameterization", "Pruning",
    "Schedule", "Study", "Trainer", "UserError", "Verdict", "hookimpl", "__version__",
]
