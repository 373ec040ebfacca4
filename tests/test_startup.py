"""Commands that answer at once: ``assay --help`` and a cached ``assay plugins`` import neither
torch nor MLflow, print what the loaded plugins would, and an edit to a plugin shows at once."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Runs the CLI in a fresh interpreter, then reports which heavy modules it imported.
PROBE = """
import sys
from assay._cli.main import main
try:
    rc = main(sys.argv[1:])
except SystemExit as exc:               # --help
    rc = exc.code
heavy = sorted(m for m in ('torch', 'mlflow', 'optuna', 'dask') if m in sys.modules)
sys.stderr.write('\\nHEAVY=' + ','.join(heavy) + '\\n')
sys.exit(rc)
"""


def _assay(args: list[str], cache: Path, **env: str) -> tuple[str, list[str]]:
    """(stdout, heavy modules imported) of ``assay ARGS`` with its cache in ``cache``."""
    full = {k: v for k, v in os.environ.items() if k != "ASSAY_NO_CACHE"}
    full.update(XDG_CACHE_HOME=str(cache), COLUMNS="200", **env)
    out = subprocess.run([sys.executable, "-c", PROBE, *args], env=full, capture_output=True,
                         check=False, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    heavy = out.stderr.rsplit("HEAVY=", 1)[1].strip()
    return out.stdout, [m for m in heavy.split(",") if m]


def test_help_imports_nothing_heavy(tmp_path):
    out, heavy = _assay(["--help"], tmp_path)
    assert "plugins" in out and "sweep" in out
    assert heavy == []


# Installed plugins are left out where a test needs the cache to stay valid between calls:
# in a shared checkout other people's plugin edits rightly invalidate it. The core's own
# components still load through the registry (and import torch) on a miss.
STABLE = {"ASSAY_DISABLE_PLUGIN_AUTOLOAD": "1"}


def test_cached_plugins_match_the_loaded_ones_without_torch_or_mlflow(tmp_path):
    loaded, heavy_loaded = _assay(["plugins"], tmp_path, **STABLE)   # a miss: loads them
    assert "torch" in heavy_loaded and "builtin" in loaded           # (the probe sees torch)
    assert list((tmp_path / "assay").glob("plugins-*.json"))
    cached, heavy = _assay(["plugins"], tmp_path, **STABLE)
    assert heavy == []
    assert cached == loaded


@pytest.mark.slow
def test_no_cache_bypasses_the_file(tmp_path):
    _assay(["plugins"], tmp_path)
    bypass, heavy = _assay(["plugins"], tmp_path, ASSAY_NO_CACHE="1")
    assert "torch" in heavy and "lion" in bypass


PLUGIN_INIT = """
from assay import hookimpl

@hookimpl
def assay_register_datasets():
    from {pkg}.data import Tiny
    return [Tiny]
"""

PLUGIN_DATA = """
from assay import Config, Dataset

class Tiny(Dataset):
    name = "{name}"
    Config = Config

    def load(self, seed):
        raise NotImplementedError
"""


@pytest.mark.slow
def test_an_edit_to_a_plugin_package_invalidates_the_cache(tmp_path):
    # A plugin package imported by module name from a source folder, as an editable install
    # is: editing a file other than its __init__ (which sets its version) must show at once.
    src = tmp_path / "src"
    pkg = src / "startup_probe_plugin"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(PLUGIN_INIT.format(pkg=pkg.name))
    (pkg / "data.py").write_text(PLUGIN_DATA.format(name="tiny-before"))
    env = {"PYTHONPATH": str(src), "ASSAY_PLUGINS": pkg.name,
           "ASSAY_DISABLE_PLUGIN_AUTOLOAD": "1"}
    first, _ = _assay(["plugins"], tmp_path / "cache", **env)
    assert "tiny-before" in first
    again, heavy = _assay(["plugins"], tmp_path / "cache", **env)
    assert again == first and heavy == []
    (pkg / "data.py").write_text(PLUGIN_DATA.format(name="tiny-after"))
    edited, heavy = _assay(["plugins"], tmp_path / "cache", **env)
    assert "tiny-after" in edited and "tiny-before" not in edited
    assert "torch" in heavy                                         # it reloaded


@pytest.mark.slow
def test_an_edit_to_a_local_plugin_file_invalidates_the_cache(tmp_path):
    plugin = tmp_path / "local_plugin.py"
    body = textwrap.dedent(PLUGIN_DATA) + textwrap.dedent("""
        from assay import hookimpl

        @hookimpl
        def assay_register_datasets():
            return [Tiny]
    """)
    plugin.write_text(body.format(name="local-before"))
    env = {"ASSAY_DISABLE_PLUGIN_AUTOLOAD": "1"}
    first, _ = _assay(["plugins", "--plugin", str(plugin)], tmp_path / "cache", **env)
    assert "local-before" in first
    plugin.write_text(body.format(name="local-after"))
    edited, _ = _assay(["plugins", "--plugin", str(plugin)], tmp_path / "cache", **env)
    assert "local-after" in edited


QUICK = str(Path(__file__).resolve().parents[1] / "examples" / "quickstart.yaml")
TINY = ["-o", "train.steps=10", "-o", "train.eval_every=5"]


@pytest.mark.slow
def test_a_finished_run_is_answered_without_torch_and_says_the_same(tmp_path):
    env = {"ASSAY_HOME": str(tmp_path / "runs"), **STABLE}
    trained, _ = _assay(["run", QUICK, *TINY], tmp_path / "cache", **env)
    assert "finished" in trained
    full, heavy_full = _assay(["run", QUICK, *TINY], tmp_path / "cache", ASSAY_NO_CACHE="1",
                              **env)
    assert "already finished" in full and "torch" in heavy_full
    fast, heavy = _assay(["run", QUICK, *TINY], tmp_path / "cache", **env)
    assert heavy == []
    assert fast == full
    other, heavy_other = _assay(["run", QUICK, *TINY, "-o", "train.steps=11"],
                                tmp_path / "cache", **env)
    assert "already finished" not in other and "torch" in heavy_other


def test_the_sql_lookup_agrees_with_mlflows_search(tmp_path):
    from assay._record.index import finished_run_sql
    from assay._record.tracking import Store, Tracker

    store = Store.resolve(str(tmp_path / "runs"))
    tracker = Tracker(store)
    first = tracker.start_run("e", "a", {"assay.run_key": "k1", "assay.status": "finished"})
    tracker.client.log_metric(first, "val/loss", 0.5)
    tracker.client.log_metric(first, "val/loss", 0.25, step=1)
    again = tracker.start_run("e", "b", {"assay.run_key": "k1", "assay.status": "finished"})
    tracker.start_run("e", "c", {"assay.run_key": "k2", "assay.status": "reused"})
    db = store.tracking_uri.removeprefix("sqlite:///")
    want = tracker.finished_keys(["k1"])["k1"]
    assert finished_run_sql(db, "k1") == want
    assert want["run_id"] == first and want["metrics"] == {"val/loss": 0.25}
    assert finished_run_sql(db, "k2") is None                 # a reused run never answers
    tracker.client.delete_run(first)
    assert finished_run_sql(db, "k1")["run_id"] == again == \
        tracker.finished_keys(["k1"])["k1"]["run_id"]


def test_the_sweep_drivers_code_and_run_results_import_without_torch():
    """The driver of a sweep only reads results; what it imports for that must not cost
    torch (the workers train). Loading the experiment is another matter (the registry)."""
    probe = textwrap.dedent("""
        import sys
        import assay
        import assay._drive.sweep.cli, assay._drive.sweep.driver, assay._drive.sweep.report
        import assay._drive.law, assay._dispatch.dask_executor, assay._record.tracking
        assay.RunResult, assay.NonFiniteLoss
        print('torch' in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False", out.stdout + out.stderr
