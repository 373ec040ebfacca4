"""Validation from the plugin cache (``assay._plugins.light``): the same RunSpecs as the full
registry for every example and every claim arm, the same errors, and no torch or MLflow for an
experiment that names only built-in components."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from assay._drive.run import load
from assay._drive.verify import arm_overrides
from assay._experiment.resolve import _build_run, build_run, load_yaml
from assay._experiment.space import parse_sweep, probes
from assay._plugins import cache
from assay._plugins.light import LightRegistry, NeedsFull
from assay._plugins.registry import registry
from assay.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))
QUICK = ROOT / "examples" / "quickstart.yaml"


def _light(extra: tuple[str, ...] = ()) -> LightRegistry:
    """A light registry from the summary the cache would write (through JSON, as read)."""
    return LightRegistry(json.loads(json.dumps(cache._summarize(registry(extra)))), extra)


def _cases(edges: bool = False) -> list[tuple[str, dict, dict, tuple[str, ...]]]:
    """(label, raw experiment, overrides, plugin sources) for every example experiment and
    every arm of every installed claim at both budgets, as ``assay run``/``verify`` build
    them; with ``edges``, only each sweep's edge values instead (what preflight builds)."""
    cases = []
    for path in EXAMPLES:
        raw = load_yaml(path)
        sources = tuple(str((path.parent / p).resolve()) for p in raw.pop("plugins", []) or [])
        cases.append((str(path.relative_to(ROOT)), raw, {}, sources))
    for claim in registry().claims.values():
        for arm in claim.arms:
            raw = load_yaml(claim.arm_path(arm))
            for budget in ("full", "smoke"):
                cases.append((f"{claim.id} {arm} {budget}", raw,
                              arm_overrides(claim, arm, raw, 0, budget), ()))
    if not edges:
        return cases
    return [(f"{label} {path}={v}", raw, {**ovr, path: v}, sources)
            for label, raw, ovr, sources in cases if (raw.get("sweep") or {}).get("space")
            for path, values in probes(parse_sweep(raw["sweep"])).items() for v in values]


def _outcome(raw: dict, reg, ovr: dict) -> tuple[str, object]:
    """The RunSpec's key and dump, or the error message."""
    try:
        _, run = build_run(raw, reg, ovr)
    except UserError as exc:
        return "error", str(exc)
    return run.key, run.model_dump(mode="json")


def test_light_and_full_registries_give_the_same_runspecs():
    cases = _cases()
    assert len(cases) > 100                          # every claim arm is here
    _same(cases)


@pytest.mark.slow
def test_light_and_full_registries_agree_at_every_sweep_edge():
    _same(_cases(edges=True))


def _same(cases: list[tuple[str, dict, dict, tuple[str, ...]]]) -> None:
    lights: dict[tuple[str, ...], LightRegistry] = {}
    light_only = 0
    for label, raw, ovr, sources in cases:
        light = lights.setdefault(sources, _light(sources))
        assert _outcome(raw, light, ovr) == _outcome(raw, registry(sources), ovr), label
        try:
            _build_run(raw, light, ovr)              # without the fallback
            light_only += 1
        except (NeedsFull, UserError):
            pass
    assert light_only > len(cases) // 2             # most of them never needed the full one


def test_a_builtin_experiment_needs_no_fallback():
    _, run = _build_run(load_yaml(QUICK), _light(), {})
    assert run.key == load(QUICK).run.key
    _, auto = _build_run(load_yaml(QUICK), _light(), {"backend.name": "auto"})
    assert auto.key == load(QUICK, {"backend.name": "auto"}).run.key


def test_bad_input_gives_the_same_message():
    bad = [{"model.widht": 3}, {"model.width": 0}, {"methods.optimizer.name": "adamx"},
           {"methods.schedule.name": "adamw"}, {"backend.name": "tpu"},
           {"dataset.name": "digits", "dataset.size": 9}, {"backend.threads": True}]
    raw = load_yaml(QUICK)
    for ovr in bad:
        light, full = _outcome(raw, _light(), ovr), _outcome(raw, registry(), ovr)
        assert light[0] == "error" and light == full, ovr


def test_what_light_cannot_answer_goes_to_the_full_registry():
    summary = json.loads(json.dumps(cache._summarize(registry())))
    for record in summary["components"]:
        record["config"] = "assay._no_such_module:Nothing"
    summary["torch_cpu_only"] = None                 # auto cannot be decided without torch
    light = LightRegistry(summary)
    raw = {**load_yaml(QUICK), "backend": {"name": "auto"}}
    with pytest.raises(NeedsFull):
        _build_run(raw, light, {})
    assert build_run(raw, light)[1].key == build_run(raw, registry())[1].key


VALIDATE = """
import sys
from assay._cli import preflight
from assay._cli.main import parser
from assay._experiment import settings
from assay.errors import UserError

args = parser().parse_args(sys.argv[1:])
try:
    preflight.check(args, settings.apply(args))
except UserError as exc:
    print(f"error: {exc}", file=sys.stderr)
print(','.join(m for m in ('torch', 'mlflow') if m in sys.modules))
"""


def test_validating_quickstart_imports_neither_torch_nor_mlflow(tmp_path):
    # Installed plugins are left out so that other people's plugin edits in a shared checkout
    # cannot invalidate the cache between the calls (as in test_startup.py).
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "ASSAY_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("ASSAY_NO_CACHE", None)
    argv = [sys.executable, "-c", VALIDATE, "run", str(QUICK), "-o", "train.steps=7"]
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300,
                           check=False)
    assert first.returncode == 0, first.stderr
    assert "torch" in first.stdout                   # a miss: loads the plugins, fills the cache
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300,
                           check=False)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == ""
    bad = subprocess.run(argv + ["-o", "model.widht=3"], env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert "model.widht: unknown field. Did you mean 'width'?" in bad.stderr
    assert bad.stdout.strip() == ""                  # refused, still without torch


CONFIG_MODULES = """
import sys

for name in sys.argv[1:]:
    __import__(name)
    if "torch" in sys.modules:
        print(name)
        break
"""


def test_every_components_config_imports_without_torch():
    """Validation imports each named component's Config from its module: every installed
    component's (the core's, assay.lib's and each plugin's config.py) must not import torch,
    or validating an experiment that names it would."""
    reg = registry()
    modules = sorted({cls.Config.__module__ for table in reg.components.values()
                      for cls in table.values()})
    assert any(m.endswith(".config") for m in modules)          # the plugins' own modules
    out = subprocess.run([sys.executable, "-c", CONFIG_MODULES, *modules], capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"{out.stdout.strip()} imports torch"


def test_validating_a_plugin_experiment_imports_no_torch(tmp_path):
    """A plugin's experiment whose optimizer wraps another one (grad-noise: a nested
    ``inner`` reference, completed against the registry) validates, and is refused, without
    torch once the plugin cache is filled. (Installed plugins are loaded here: an edit to one
    of them between the two calls would rightly invalidate the cache.)"""
    example = ROOT / "plugins" / "grad-noise" / "assay_grad_noise" / "configs" / "noise_deep_mlp.yaml"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("ASSAY_NO_CACHE", None)
    env.pop("ASSAY_DISABLE_PLUGIN_AUTOLOAD", None)
    argv = [sys.executable, "-c", VALIDATE, "run", str(example)]
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300,
                           check=False)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300,
                           check=False)
    assert again.returncode == 0 and "error" not in again.stderr, again.stderr
    assert again.stdout.strip() == ""
    bad = subprocess.run(argv + ["-o", "methods.optimizer.inner.lr=-1"], env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert "methods.optimizer.inner" in bad.stderr and "lr" in bad.stderr, bad.stderr
    assert bad.stdout.strip() == ""


SWEEP = """
import sys

if __name__ == "__main__":           # Dask's worker processes import this file again
    from assay._cli.main import main

    rc = main(sys.argv[1:])
    heavy = [m for m in ("torch", "assay._run.loop", "assay._builtin.models") if m in sys.modules]
    print("HEAVY=" + ",".join(heavy), file=sys.stderr)
    sys.exit(rc)
"""


@pytest.mark.slow
def test_the_sweep_driver_imports_neither_torch_nor_training_code_when_workers_train(tmp_path):
    # (installed plugins left out, as above: edits elsewhere must not invalidate the cache)
    script = tmp_path / "drive.py"
    script.write_text(SWEEP)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "ASSAY_HOME": str(tmp_path / "runs"), "ASSAY_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("ASSAY_NO_CACHE", None)
    argv = [sys.executable, str(script), "sweep", str(QUICK), "--trials", "2", "--workers", "1",
            "-o", "train.steps=4", "-o", "train.eval_every=2"]
    fill = "from assay._plugins.cache import summary; summary(())"
    subprocess.run([sys.executable, "-c", fill], env=env, check=True, timeout=300)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "finished" in done.stdout or "val/loss" in done.stdout
    assert done.stderr.rsplit("HEAVY=", 1)[1].strip() == ""
