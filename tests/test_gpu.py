"""GPU readiness checked without a GPU: resource requests, device pinning, precision settings.
Tests that need a device are marked ``gpu`` and skipped when none is present."""
from __future__ import annotations

import pytest
import torch

from assay._drive.run import load
from assay._dispatch.executor import expected_plugins, gpu_plan, local_gpus, mismatches
from assay._plugins.registry import registry
from assay._experiment.resolve import instantiate

EXP = {"name": "gpu-check", "dataset": {"name": "synthetic-classification"},
       "model": {"name": "mlp", "width": 8}, "train": {"steps": 2, "eval_every": 1}}


def _run(backend: dict):
    return load({**EXP, "backend": backend}, {}).run


def test_cuda_runs_ask_for_one_gpu_and_cpu_runs_for_none():
    reg = registry()
    assert instantiate(reg, "backend", _run({"name": "cuda"}).backend).resources() == {"GPU": 1}
    half = _run({"name": "cuda", "gpus": 0.5}).backend
    assert instantiate(reg, "backend", half).resources() == {"GPU": 0.5}
    assert instantiate(reg, "backend", _run({"name": "cpu"}).backend).resources() == {}


def test_the_sweep_driver_submits_with_the_backends_resources(tmp_path):
    from assay._experiment.space import parse_sweep
    from assay._drive.sweep import Driver
    from assay._record.tracking import Store

    loaded = load({**EXP, "backend": {"name": "cuda"},
                   "sweep": {"space": {"methods.optimizer.lr": {"log_uniform": [1e-4, 1e-2]}}}},
                  {})
    driver = Driver(loaded, parse_sweep(loaded.experiment.sweep), workers=0,
                    store=Store.resolve(root=tmp_path))
    assert driver._resources(loaded.run) == {"GPU": 1}


def test_one_device_per_worker():
    plan = gpu_plan(3, 2)
    assert [p["env"]["CUDA_VISIBLE_DEVICES"] for p in plan] == ["0", "1", ""]
    assert [p["resources"] for p in plan] == [{"GPU": 1}, {"GPU": 1}, {}]
    assert gpu_plan(2, 2, visible="4,7")[1]["env"]["CUDA_VISIBLE_DEVICES"] == "7"
    assert gpu_plan(2, 0) == [{"env": {}, "resources": {}}] * 2     # CPU machine: untouched


def test_local_gpu_count_honours_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert local_gpus() == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert local_gpus() == 0


def test_tf32_and_autocast_settings_follow_the_config():
    reg = registry()
    before = torch.backends.cuda.matmul.allow_tf32
    try:
        off = instantiate(reg, "backend", _run({"name": "cuda", "tf32": False}).backend)
        off.setup(0)
        assert torch.backends.cuda.matmul.allow_tf32 is False
        on = instantiate(reg, "backend", _run({"name": "cuda", "tf32": True}).backend)
        on.setup(0)
        assert torch.backends.cuda.matmul.allow_tf32 is True
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before
    bf16 = instantiate(reg, "backend", _run({"name": "cuda", "dtype": "bfloat16"}).backend)
    ctx = bf16.autocast()
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16
    fp32 = instantiate(reg, "backend", _run({"name": "cuda"}).backend)
    assert not isinstance(fp32.autocast(), torch.autocast)


def test_workers_without_the_experiments_plugins_are_named():
    run = load({**EXP, "methods": {"optimizer": {"name": "lion"}}}, {}).run
    expect = expected_plugins(run)
    assert "lion" in expect and "builtin" in expect
    ok = {"plugins": dict(expect)}
    assert mismatches(ok, expect) == []
    missing = {"plugins": {"builtin": expect["builtin"]}, "broken": {}}
    assert mismatches(missing, expect) == ["plugin 'lion' is not installed"]
    old = {"plugins": {**expect, "lion": "0.0.1"}}
    assert mismatches(old, expect) == [f"plugin 'lion' is 0.0.1 (driver: {expect['lion']})"]
    broken = {"plugins": {"builtin": expect["builtin"]}, "broken": {"lion": "ImportError: x"}}
    assert "fails to import: ImportError: x" in mismatches(broken, expect)[0]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_run_trains_on_the_pinned_device():
    from assay._run.loop import execute

    result = execute(_run({"name": "cuda", "dtype": "bfloat16"}))
    assert result.status == "finished"
