"""The public boundary, enforced with import-linter.

Plugins, their tests, the examples and the scaffold's output may import only assay's public
modules (``assay``, ``assay.spec``, ``assay.kinds``, ``assay.hookspecs``, ``assay.claims``,
``assay.errors``, ``assay.lib.*``, ``assay.testing``); core's own layers import downward only
(``.importlinter`` at the repository root). import-linter reads packages, so the test files
and examples are copied into throwaway packages first; the contract is the same one a user
runs with ``lint-imports``.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")
PRIVATE = ["assay._builtin", "assay._cli", "assay._dispatch", "assay._drive",
           "assay._experiment", "assay._plugins", "assay._record", "assay._run",
           "assay._version"]

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed")


def _package(src_files: list[Path], dest: Path) -> None:
    dest.mkdir(parents=True)
    (dest / "__init__.py").write_text("")
    for f in src_files:
        shutil.copy(f, dest / f.name)


def _lint(workdir: Path, packages: list[str], extra_path: list[Path]) -> subprocess.CompletedProcess:
    """Run lint-imports with the repository's layers contract plus a forbidden contract over
    ``packages``; return the finished process."""
    config = (ROOT / ".importlinter").read_text().replace(
        "root_packages =\n    assay\n",
        "root_packages =\n    assay\n" + "".join(f"    {p}\n" for p in packages))
    config += ("\n[importlinter:contract:public]\n"
               "name = plugins, their tests, examples and scaffolds import only public assay\n"
               "type = forbidden\nallow_indirect_imports = True\n"
               "source_modules =\n" + "".join(f"    {p}\n" for p in packages) +
               "forbidden_modules =\n" + "".join(f"    {m}\n" for m in PRIVATE))
    (workdir / ".importlinter").write_text(config)
    path = ":".join(str(p) for p in [workdir, *extra_path, ROOT / "core"])
    return subprocess.run([str(LINT), str(workdir / ".importlinter"), "--no-cache"], cwd=workdir, capture_output=True, text=True,
                          env={"PATH": str(LINT.parent), "PYTHONPATH": path}, timeout=300)


def _plugin_packages() -> tuple[list[str], list[Path]]:
    names, paths = [], []
    for folder in sorted((ROOT / "plugins").iterdir()):
        for pkg in folder.glob("assay_*/__init__.py"):
            names.append(pkg.parent.name)
            paths.append(folder)
    return names, paths


def test_plugins_their_tests_and_examples_use_only_the_public_api(tmp_path: Path) -> None:
    packages, paths = _plugin_packages()
    for folder in sorted((ROOT / "plugins").iterdir()):
        tests = sorted(folder.glob("tests/*.py"))
        if tests:
            name = "lint_tests_" + folder.name.replace("-", "_")
            _package(tests, tmp_path / name)
            packages.append(name)
    examples = sorted((ROOT / "examples").rglob("*.py"))
    if examples:
        _package(examples, tmp_path / "lint_examples")
        packages.append("lint_examples")
    out = _lint(tmp_path, packages, paths)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "BROKEN" not in out.stdout


def test_a_private_import_in_a_plugin_breaks_the_contract(tmp_path: Path) -> None:
    pkg = tmp_path / "assay_sneaky"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from assay import hookimpl  # public: fine\n")
    (pkg / "method.py").write_text("from assay._run.loop import run_steps  # private\n")
    out = _lint(tmp_path, ["assay_sneaky"], [])
    assert out.returncode != 0
    assert "assay_sneaky is not allowed to import assay._run" in out.stdout
    assert "assay_sneaky.method -> assay._run.loop" in out.stdout


def test_the_scaffold_output_uses_only_the_public_api(tmp_path: Path) -> None:
    from assay._cli.scaffold import new_plugin

    target = new_plugin("lint-probe", tmp_path / "plugins")
    _package(sorted(target.glob("tests/*.py")), tmp_path / "lint_tests_probe")
    out = _lint(tmp_path, ["assay_lint_probe", "lint_tests_probe"], [target])
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_public_names_are_importable_and_documented() -> None:
    import assay

    for name in assay.__all__:
        obj = getattr(assay, name)
        if callable(obj) and not name.startswith("__"):
            assert obj.__doc__, f"assay.{name} has no docstring"
    assert "Study" not in assay.__all__
