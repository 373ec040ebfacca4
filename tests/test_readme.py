"""The README's commands run as written (on a tiny budget), so it cannot drift from the code."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from assay._cli.main import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
COMMANDS = [line.strip() for block in re.findall(r"```sh\n(.*?)```", README, re.S)
            for line in block.splitlines() if line.strip().startswith("assay ")]
# flags that keep each command small; the command itself is the README's
TINY = {
    "run": ["-o", "train.steps=10", "-o", "train.eval_every=5"],
    "sweep": ["--trials", "2", "--workers", "0", "-o", "train.steps=10", "-o", "train.eval_every=5"],
    "law": None,            # covered by tests/test_law.py and `make demo`
    "verify": None,         # covered by tests/test_claims.py (smoke, slow)
    "ui": None,             # covered by tests/test_run.py and tests/test_ui.py
    "show": None,           # covered by tests/test_ui.py (slow)
}


def test_readme_starts_with_the_two_commands():
    first = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    assert "make demo" in first and "make test" in first


def test_readme_commands_parse():
    from assay._cli.main import parser

    assert len(COMMANDS) >= 6
    for cmd in COMMANDS:
        argv = shlex.split(cmd.split("#")[0])[1:]
        parser().parse_args(argv)                   # raises SystemExit on a bad flag
        for arg in argv:
            if arg.endswith((".yaml", ".py")):
                assert (ROOT / arg).exists(), f"README names a missing file: {arg}"


@pytest.mark.parametrize("cmd", COMMANDS)
def test_readme_command_runs(cmd, tmp_path, monkeypatch):
    argv = shlex.split(cmd.split("#")[0])[1:]
    extra = TINY.get(argv[0], [])
    if extra is None:
        pytest.skip(f"`assay {argv[0]}` is exercised by its own tests")
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "assay-runs"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    argv = _drop_options(argv, {"--trials", "--workers"})   # replaced by the tiny ones
    assert main([*argv, *extra]) == 0


def _drop_options(argv: list[str], names: set[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in names:
            skip = True
        else:
            out.append(a)
    return out
