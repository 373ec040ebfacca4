"""Garbage collection around start-up and exit (``assay._drive.gcpause``): paused while a
sweep's driver starts, collecting again (over a frozen heap) once trials run, frozen at exit;
the workers' forkserver freezes its imports and forks workers that collect. ``main(argv)``,
as tests and notebooks call it, leaves the caller's collector alone."""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from assay._cli.main import main
from assay._drive import gcpause

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "examples" / "quickstart.yaml")

# A plugin file whose run hook records the collector's state where the run executes.
RECORDER = """
import gc, json, os
from assay import hookimpl

@hookimpl
def assay_run_start(run):
    with open(os.environ["GC_RECORD"], "a") as f:
        f.write(json.dumps({"pid": os.getpid(), "enabled": gc.isenabled(),
                            "frozen": gc.get_freeze_count(), "steps": run.train.steps}) + "\\n")
"""


@pytest.fixture
def collector():
    """Leave the collector as the test found it (these tests switch it off and freeze)."""
    was = gc.isenabled()
    yield
    gc.unfreeze()
    gcpause._paused = False
    (gc.enable if was else gc.disable)()


def test_pause_then_resume_freezes_what_start_up_loaded(collector):
    gc.unfreeze()
    gcpause.pause()
    assert not gc.isenabled()
    start_up = [[] for _ in range(1000)]              # containers made during start-up
    assert any(o is start_up for o in gc.get_objects())
    gcpause.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= 1000
    assert not any(o is start_up for o in gc.get_objects())   # frozen: collections skip it
    gcpause.resume()                                   # twice: nothing more happens
    assert gc.isenabled()


def test_resume_without_pause_leaves_the_collector_alone(collector):
    gc.unfreeze()
    gc.disable()                                       # a caller that runs without collection
    gcpause.resume()
    assert not gc.isenabled() and gc.get_freeze_count() == 0
    gc.enable()
    gcpause.resume()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_main_with_argv_leaves_the_collector_alone(collector, tmp_path, monkeypatch):
    gc.unfreeze()
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "runs"))
    assert main(["plugins"]) == 0
    assert main(["sweep", QUICKSTART, "--trials", "1", "--workers", "0",
                 "-o", "train.steps=2", "-o", "train.eval_every=2"]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == 0


def _sweep(tmp_path: Path, workers: int, code: str) -> tuple[subprocess.CompletedProcess, list]:
    plugin = tmp_path / "gc_recorder.py"
    plugin.write_text(RECORDER)
    record = tmp_path / "gc.jsonl"
    env = {**os.environ, "ASSAY_HOME": str(tmp_path / "runs"), "GC_RECORD": str(record)}
    argv = ["assay", "sweep", QUICKSTART, "--trials", "2", "--workers", str(workers),
            "-o", "train.steps=3", "-o", "train.eval_every=3", "--plugin", str(plugin)]
    script = f"import sys\nsys.argv = {argv!r}\n" + textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    return out, [r for r in rows if r["steps"] == 3]        # not the workers' one-step warm-up


@pytest.mark.slow
def test_the_command_collects_during_trials_and_freezes_at_exit(tmp_path):
    """The console script's path (``main()`` without argv), trials run in the driver's own
    process (--workers 0): collection is on while they train, over a frozen start-up heap,
    and off, with everything frozen, once the command returns."""
    out, rows = _sweep(tmp_path, 0, """
        import gc
        from assay._cli.main import main
        rc = main()
        print("AFTER", gc.isenabled(), gc.get_freeze_count())
        sys.exit(rc)
    """)
    assert len(rows) == 2
    assert all(r["enabled"] for r in rows)
    assert all(r["frozen"] > 10_000 for r in rows)           # MLflow, Optuna, torch, ...
    enabled, frozen = out.stdout.rsplit("AFTER", 1)[1].split()
    assert enabled == "False" and int(frozen) > 10_000


@pytest.mark.slow
def test_workers_fork_from_a_frozen_heap_and_collect(tmp_path):
    """Dask workers forked from the forkserver: their collector is on, and the forkserver's
    imports (torch, Dask, the plugins) sit in the frozen generation it skips."""
    _, rows = _sweep(tmp_path, 2, """
        from assay._cli.main import main
        sys.exit(main())
    """)
    assert len(rows) == 2
    assert all(r["pid"] != os.getpid() for r in rows)
    assert all(r["enabled"] for r in rows)
    assert all(r["frozen"] > 100_000 for r in rows)
