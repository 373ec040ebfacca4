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


def test_cached_plugins_match_the_loaded_ones_without_torch_or_mlflow(tmp_path):
    loaded, heavy_loaded = _assay(["plugins"], tmp_path)         # a miss: loads every plugin
    assert "torch" in heavy_loaded                                 # (the probe does see torch)
    assert list((tmp_path / "assay").glob("plugins-*.json"))
    cached, heavy = _assay(["plugins"], tmp_path)
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
