"""The core's own components, registered through the same hooks as any plugin.

The components are imported when the hooks are called, not with this package, so that
``assay._builtin.configs`` (their configs, without torch) can be imported alone: that is what
validating an experiment needs (``assay._plugins.light``).
"""
from __future__ import annotations

from typing import Any

from assay.hookspecs import hookimpl


@hookimpl
def assay_register_datasets() -> list[Any]:
    from assay._builtin.datasets import DATASETS
    from assay._builtin.mnist1d import MNIST1D

    return [*DATASETS, MNIST1D]


@hookimpl
def assay_register_models() -> list[Any]:
    from assay._builtin.models import MODELS

    return list(MODELS)


@hookimpl
def assay_register_methods() -> list[Any]:
    from assay._builtin.optim import OPTIMIZERS, SCHEDULES
    from assay.lib.adapters import ADAPTERS

    return [*OPTIMIZERS, *SCHEDULES, *ADAPTERS]


@hookimpl
def assay_register_backends() -> list[Any]:
    from assay._builtin.backends import BACKENDS

    return list(BACKENDS)
