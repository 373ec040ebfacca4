"""Testing kit for plugin authors: contract suites every component must pass, and helpers to
run a component in a tiny experiment. See :mod:`assay.testing.contracts` for what is checked
and how a component declares the experiment it needs (``contract_experiment``)."""
from __future__ import annotations

from assay.testing.contracts import (
    MODEL_DATASETS, TINY, BackendContract, ComponentContract, DatasetContract, MethodContract,
    ModelContract, assert_same_data, check_config, check_data, check_forward,
    check_lowers_loss, check_name, check_repeats, component_ref, experiment_for, initial_loss,
    registry_params, run_experiment, run_tiny, tiny_experiment,
)
from assay.testing.run import (
    build, build_context, execute, load_data, load_yaml, negative_control, run_claim,
)

__all__ = [
    "MODEL_DATASETS", "TINY", "BackendContract", "ComponentContract", "DatasetContract",
    "MethodContract", "ModelContract", "assert_same_data", "check_config", "check_data",
    "check_forward", "check_lowers_loss", "check_name", "check_repeats", "component_ref",
    "experiment_for", "initial_loss", "registry_params", "run_experiment", "run_tiny",
    "tiny_experiment", "build", "build_context", "execute", "load_data", "load_yaml",
    "negative_control", "run_claim",
]
