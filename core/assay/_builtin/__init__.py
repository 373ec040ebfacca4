"""The core's own components, registered through the same hooks as any plugin."""
from __future__ import annotations

from typing import Any

from assay.lib.adapters import ADAPTERS
from assay._builtin.backends import BACKENDS
from assay._builtin.datasets import DATASETS
from assay._builtin.mnist1d import MNIST1D
from assay._builtin.models import MODELS
from assay._builtin.optim import OPTIMIZERS, SCHEDULES
from assay.hookspecs import hookimpl


@hookimpl
def assay_register_datasets() -> list[Any]:
    return [*DATASETS, MNIST1D]


@hookimpl
def assay_register_models() -> list[Any]:
    return list(MODELS)


@hookimpl
def assay_register_methods() -> list[Any]:
    return [*OPTIMIZERS, *SCHEDULES, *ADAPTERS]


@hookimpl
def assay_register_backends() -> list[Any]:
    return list(BACKENDS)
