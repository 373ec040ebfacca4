"""``assay new plugin NAME``: name checks, the generated tree, and (slow) a generated plugin
that installs, shows up in ``assay plugins`` and passes its own tests."""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from assay._cli.main import main
from assay._cli.scaffold import new_plugin


@pytest.mark.parametrize("bad", ["Bad_Name", "demo_x", "-demo", "demo--x", "9lives", "demo-"])
def test_bad_name_exits_with_clear_error(bad: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "plugin", "--dir", str(tmp_path), "--", bad]) == 2
    err = capsys.readouterr().err
    assert "lowercase kebab-case" in err and repr(bad) in err
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_and_reserved_name_are_refused(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "demo-x").mkdir()
    assert main(["new", "plugin", "demo-x", "--dir", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["new", "plugin", "builtin", "--dir", str(tmp_path)]) == 2
    assert "reserved" in capsys.readouterr().err


def test_generates_the_reference_shape(tmp_path: Path) -> None:
    root = new_plugin("demo-y", tmp_path)
    assert root == tmp_path / "demo-y"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == ["README.md", "assay_demo_y/__init__.py", "assay_demo_y/claims.py",
                     "assay_demo_y/config.py", "assay_demo_y/configs/claim.yaml",
                     "assay_demo_y/method.py",
                     "pyproject.toml", "tests/test_demo_y.py"]
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "assay-demo-y"
    assert meta["project"]["entry-points"]["assay"] == {"demo-y": "assay_demo_y"}
    assert meta["build-system"]["build-backend"] == "hatchling.build"
    assert meta["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["assay_demo_y"]
    readme = (root / "README.md").read_text()
    for section in ("What it is", "Paper", "Claims", "Usage", "Deviations from the paper"):
        assert f"\n## {section}\n" in readme
    for py in root.rglob("*.py"):
        compile(py.read_text(), str(py), "exec")
    assert 'name = "demo-y"' in (root / "assay_demo_y/method.py").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ASSAY_DISABLE_PLUGIN_AUTOLOAD",
                                                             "ASSAY_PLUGINS", "PYTEST_ADDOPTS")}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_generated_plugin_installs_lists_and_passes_its_tests(tmp_path: Path) -> None:
    made = _run("-m", "assay._cli.main", "new", "plugin", "demo-x", "--dir", str(tmp_path),
                cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    root = tmp_path / "demo-x"
    constraints = Path(sys.prefix) / "assay-constraints.txt"
    pip = ["-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps",
           *(["-c", str(constraints)] if constraints.exists() else []), "-e", str(root)]
    try:
        installed = _run(*pip, cwd=tmp_path)
        assert installed.returncode == 0, installed.stderr
        listed = _run("-m", "assay._cli.main", "plugins", cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert "demo-x" in listed.stdout and "demo-x (optimizer)" in listed.stdout, listed.stdout
        assert "demo-x:headline" in listed.stdout, listed.stdout
        tested = _run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests"),
                      cwd=tmp_path)
        assert tested.returncode == 0, tested.stdout + tested.stderr
        assert " passed" in tested.stdout and "failed" not in tested.stdout
    finally:
        _run("-m", "pip", "uninstall", "-y", "-q", "assay-demo-x", cwd=tmp_path)
