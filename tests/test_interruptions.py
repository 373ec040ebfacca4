"""Interrupted drivers, on real Dask, MLflow and Optuna (slow: each starts real commands).

kill -9 the sweep driver at several points, then resume. Whatever the point, the study ends
with the trials asked for; no configuration is evaluated twice because of a restart
(COMPLETE trials equal distinct configurations); every trial has one MLflow child, and each
COMPLETE trial's child is FINISHED with the trial's parameters and value; nothing is left
RUNNING; no run key was trained twice.

SIGTERM on `assay sweep` (a local Dask cluster): it stops asking, marks its running trials
preempted in Optuna and MLflow, ends its parent run KILLED and exits 143; its cluster is
shut down (no process left behind, no semaphore-leak warning); the same command then
finishes the study. SIGTERM on `assay run` ends its run KILLED.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from assay._record.tracking import Store

ROOT = Path(__file__).resolve().parents[1]
QUICK = str(ROOT / "examples" / "quickstart.yaml")
CHAOS = str(ROOT / "tests" / "plugins" / "chaos.py")
TRIALS = 10


def sweep_cmd(*extra: str) -> list[str]:
    """A sweep of ~2 s trials (100 steps of 20 ms) over one continuous knob."""
    return [sys.executable, "-m", "assay._cli.main", "sweep", QUICK, "--plugin", CHAOS,
            "-o", "methods.optimizer={name: chaos, mode: slow, sleep_s: 0.02}",
            "-o", "methods.schedule={name: constant}", "-o", "train.steps=100",
            "-o", "train.eval_every=20", "-o", "model.width=16",
            "-o", "sweep.pruner=none", "-o", "sweep.sampler=tpe",
            "-o", "sweep.n_startup_trials=3", *extra]


def client(store: Store):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=store.tracking_uri)


def all_runs(store: Store) -> list:
    c = client(store)
    return c.search_runs([e.experiment_id for e in c.search_experiments()], max_results=5000)


def n_finished(store: Store) -> int:
    try:
        return sum(r.data.tags.get("assay.status") == "finished" for r in all_runs(store))
    except Exception:  # noqa: BLE001 - the store is still being created
        return 0


def journal_has_trials(store: Store) -> bool:
    path = store.root / "optuna" / "quickstart.journal"
    return path.exists() and b"run_key" in path.read_bytes()


def study(store: Store):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    path = store.root / "optuna" / "quickstart.journal"
    return optuna.load_study(study_name="quickstart", storage=optuna.storages.JournalStorage(
        JournalFileBackend(str(path))))


def wait_for(pred, timeout: float, proc: subprocess.Popen) -> bool:  # noqa: ANN001
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if pred():
            return True
        time.sleep(0.2)
    return False


def kill_9(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)               # the driver only, as an OOM killer would
    proc.wait(timeout=30)
    time.sleep(1)
    try:
        os.killpg(proc.pid, signal.SIGKILL)         # then what it leaves (workers)
    except ProcessLookupError:
        pass


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return Store.resolve(root=tmp_path / "assay-runs")


@pytest.mark.slow
def test_kill_9_at_several_points_then_resume(store):
    env = {**os.environ, "ASSAY_HOME": str(store.root)}
    points = [("trials asked, none finished", lambda: journal_has_trials(store)),
              ("2 runs finished", lambda: n_finished(store) >= 2),
              ("6 runs finished", lambda: n_finished(store) >= 6)]
    for what, reached in points:
        proc = subprocess.Popen(sweep_cmd("--trials", str(TRIALS), "--workers", "2"), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            assert wait_for(reached, 300, proc), f"the sweep never reached: {what}"
        finally:
            kill_9(proc)
    out = subprocess.run(sweep_cmd("--trials", str(TRIALS), "--workers", "2"), env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "resume:" in out.stdout                   # the note on what start-up repaired

    trials = study(store).trials
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(complete) == TRIALS
    assert len({t.params["methods.optimizer.lr"] for t in complete}) == len(complete)
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
    assert all(t.state.name == "COMPLETE" or t.user_attrs.get("assay_status") == "preempted"
               for t in trials), [(t.number, t.state.name) for t in trials]

    runs = all_runs(store)
    assert not [r for r in runs if r.info.status == "RUNNING"]
    parent = next(r for r in runs if r.data.tags.get("assay.kind") == "sweep")
    assert parent.info.status == "FINISHED"
    kids = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    by_trial = {r.data.tags["assay.trial"]: r for r in kids}
    assert len(kids) == len(by_trial) == len(trials)          # one child per trial
    for t in complete:
        run = by_trial[str(t.number)]
        assert run.info.status == "FINISHED"
        assert float(run.data.params["methods.optimizer.lr"]) == \
            pytest.approx(t.params["methods.optimizer.lr"])
        assert run.data.metrics["val/loss"] == pytest.approx(t.value)
    keys = [r.data.tags["assay.run_key"] for r in runs
            if r.data.tags.get("assay.status") == "finished"]
    assert len(keys) == len(set(keys)), "a run key was trained twice"


def group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_sigterm_on_a_sweep_preempts_its_trials_and_leaves_nothing_running(store):
    env = {**os.environ, "ASSAY_HOME": str(store.root)}
    proc = subprocess.Popen(sweep_cmd("--trials", "8", "--workers", "2"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert wait_for(lambda: n_finished(store) >= 2, 300, proc)
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
        assert group_gone(proc.pid, 30), "the sweep left processes behind"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM, out + err
    assert "stopped by SIGTERM" in out + err
    assert "leaked semaphore" not in err and "Traceback" not in err, err

    runs = all_runs(store)
    assert not [r for r in runs if r.info.status == "RUNNING"]
    parent = next(r for r in runs if r.data.tags.get("assay.kind") == "sweep")
    assert parent.info.status == "KILLED" and parent.data.tags["assay.stopped"] == "SIGTERM"
    trials = study(store).trials
    preempted = [t for t in trials if t.user_attrs.get("assay_status") == "preempted"]
    assert preempted, "trials running at the signal should be marked preempted"
    assert not [t for t in trials if t.state.name == "RUNNING"]
    assert len([t for t in trials if t.state.name == "WAITING"]) == len(preempted)
    by_trial = {r.data.tags.get("assay.trial"): r for r in runs}
    for t in preempted:
        run = by_trial[str(t.number)]
        assert run.info.status == "KILLED" and run.data.tags["assay.status"] == "preempted"

    again = subprocess.run(sweep_cmd("--trials", "8", "--workers", "2"), env=env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    trials = study(store).trials
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(complete) == 8
    assert len({t.params["methods.optimizer.lr"] for t in complete}) == 8
    assert {t.params["methods.optimizer.lr"] for t in preempted} <= \
        {t.params["methods.optimizer.lr"] for t in complete}       # asked again, same values


@pytest.mark.slow
def test_sigterm_on_assay_run_ends_its_run_killed(store):
    env = {**os.environ, "ASSAY_HOME": str(store.root)}
    cmd = [sys.executable, "-m", "assay._cli.main", "run", QUICK, "--plugin", CHAOS,
           "-o", "methods.optimizer={name: chaos, mode: slow, sleep_s: 0.05}",
           "-o", "methods.schedule={name: constant}", "-o", "train.steps=600",
           "-o", "model.width=16"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)

    def running() -> bool:
        try:
            return any(r.info.status == "RUNNING" for r in all_runs(store))
        except Exception:  # noqa: BLE001 - the store is still being created
            return False

    try:
        assert wait_for(running, 240, proc), "the run never started"
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, out + err
    assert "Traceback" not in err, err
    runs = all_runs(store)
    assert len(runs) == 1
    assert runs[0].info.status == "KILLED"
    assert runs[0].data.tags["assay.status"] == "preempted"
    assert "SIGTERM" in runs[0].data.tags["assay.error"]
