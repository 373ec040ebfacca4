"""Plugin loading: entry points, local files, broken plugins, duplicate names."""
from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

from assay.errors import UserError
from assay._plugins.registry import load_registry

COMPONENT = '''
from assay import Config, Dataset, hookimpl

class Dup(Dataset):
    name = "digits"
    Config = Config
    def load(self, seed):
        raise AssertionError

@hookimpl
def assay_register_datasets():
    return [Dup]
'''


def test_builtins_register_through_hooks():
    reg = load_registry(autoload=False)
    assert {"digits", "mnist1d"} & set(reg.names("dataset")) >= {"digits"}
    assert reg.owner[("method", "adamw")] == "builtin"
    assert {"sgd", "adamw", "cosine", "constant"} <= set(reg.names("method"))
    assert {"cpu", "cuda", "mps", "auto"} <= set(reg.names("backend"))


def test_autoload_switch_hides_entry_points(monkeypatch):
    monkeypatch.setenv("ASSAY_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "lion" not in load_registry().plugins
    monkeypatch.delenv("ASSAY_DISABLE_PLUGIN_AUTOLOAD")
    assert "lion" in load_registry().plugins


def test_broken_plugin_is_reported_and_the_rest_work(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("raise ImportError('needs a missing library')\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = load_registry([str(broken)])
    assert "broken" in reg.broken and "needs a missing library" in reg.broken["broken"]
    assert any("broken" in str(w.message) for w in caught)
    assert "lion" in reg.names("method") and "digits" in reg.names("dataset")


def test_hook_typo_is_reported(tmp_path):
    typo = tmp_path / "typo.py"
    typo.write_text("from assay import hookimpl\n@hookimpl\ndef assay_register_metods():\n"
                    "    return []\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = load_registry([str(typo)])
    assert "typo" in reg.broken and "assay_register_metods" in reg.broken["typo"]


def test_duplicate_name_names_both_plugins(tmp_path):
    dup = tmp_path / "dupe.py"
    dup.write_text(COMPONENT)
    with pytest.raises(UserError, match="'builtin'.*'dupe'"):
        load_registry([str(dup)])


def test_local_plugin_version_follows_its_source(tmp_path):
    p = tmp_path / "mine.py"
    p.write_text("x = 1\n")
    v1 = load_registry([str(p)]).plugins["mine"].version
    p.write_text("x = 2\n")
    import sys as _sys
    for name in [m for m in _sys.modules if m.startswith("assay_local_")]:
        del _sys.modules[name]
    assert load_registry([str(p)]).plugins["mine"].version != v1


def test_cli_plugins_lists_lion_and_survives_a_broken_file(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    out = subprocess.run([sys.executable, "-m", "assay._cli.main", "plugins", "--plugin", str(broken)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert "lion" in text and "Symbolic Discovery of Optimization Algorithms" in text
    assert "broken" in text and "boom" in text
    assert "Traceback" not in text


def test_help_is_fast_and_lists_commands():
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "assay._cli.main", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for cmd in ("plugins", "run", "sweep", "law", "verify", "schema", "ui", "new"):
        assert cmd in out.stdout
    heavy = [m for m in ("torch", "mlflow", "optuna", "distributed")
             if f" {m}\n" in out.stderr or f"| {m}\n" in out.stderr]
    assert not heavy, f"--help imported {heavy}"
