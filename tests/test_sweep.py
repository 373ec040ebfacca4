"""Sweeps with real Optuna studies, real MLflow stores and real Dask clusters (no mocks).

Fast tests run inline (``workers=0``); the rest use a LocalCluster or `dask scheduler` +
`dask worker` processes and are marked slow / e2e.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from assay._drive.run import load
from assay._drive.sweep import run_sweep
from assay._experiment.space import parse_sweep
from assay._record.tracking import Store

ROOT = Path(__file__).resolve().parents[1]
QUICK = str(ROOT / "examples" / "quickstart.yaml")
CHAOS = str(ROOT / "tests" / "plugins" / "chaos.py")
SMALL = ["train.steps=60", "train.eval_every=20", "model.width=32"]


def mlflow_client(store: Store):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=store.tracking_uri)


def children(store: Store, parent_id: str):
    client = mlflow_client(store)
    parent = client.get_run(parent_id)
    return client.search_runs([parent.info.experiment_id],
                              f"tags.`mlflow.parentRunId` = '{parent_id}'", max_results=1000)


def study_of(store: Store, name: str):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    path = store.root / "optuna" / f"{name}.journal"
    return optuna.load_study(study_name=name, storage=optuna.storages.JournalStorage(
        JournalFileBackend(str(path))))


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return Store.resolve(root=tmp_path / "assay-runs")


def sweep_block(**kw):
    base = {"trials": 4, "sampler": "random", "pruner": "none",
            "space": {"methods.optimizer.lr": {"log_uniform": [1e-3, 3e-2]}}}
    base.update(kw)
    return parse_sweep(base)


def assert_mlflow_matches_study(store, result, n):
    """One child per trial; a trained trial's child holds its params and metrics, a cached
    trial's child copies them from (and links to) the run that trained them."""
    study = study_of(store, result.study_name)
    kids = children(store, result.parent_run_id)
    runs = {r.data.tags["assay.trial"]: r for r in kids}
    assert len(kids) == len(runs) == len(study.trials) == n
    for t in study.trials:
        run = runs[str(t.number)]
        for path, value in t.params.items():
            assert float(run.data.params[path]) == pytest.approx(float(value)), path
        if t.state.name == "COMPLETE":
            assert run.data.metrics["val/loss"] == pytest.approx(t.value)
            assert run.info.status == "FINISHED"
            assert run.data.tags["assay.run_key"] == t.user_attrs["run_key"]
            reused = t.user_attrs.get("assay_reused_run")
            assert run.data.tags["assay.status"] == ("reused" if reused else "finished")
            assert run.data.tags.get("assay.reused_from") == reused


# --- fast: inline executor --------------------------------------------------------------------

def test_inline_sweep_records_parent_and_children(store):
    loaded = load(QUICK, SMALL)
    result = run_sweep(loaded, sweep=sweep_block(), store=store, workers=0, progress=False,
                       plots=False)
    assert result.counts == {"complete": 4}
    assert_mlflow_matches_study(store, result, 4)
    parent = mlflow_client(store).get_run(result.parent_run_id)
    assert parent.data.tags["assay.kind"] == "sweep"
    assert parent.data.metrics["best/val/loss"] == pytest.approx(result.best.values[0])


def test_failures_are_recorded_with_reasons_and_the_sweep_goes_on(store):
    loaded = load(QUICK, [*SMALL, "methods.optimizer={name: chaos, lr: 0.05}",
                          "methods.schedule={name: constant}"], plugins=[CHAOS])
    sweep = sweep_block(sampler="grid", trials=3,
                        space={"methods.optimizer.mode": {"choice": ["ok", "raise", "nan"]}})
    result = run_sweep(loaded, sweep=sweep, store=store, workers=0, progress=False, plots=False)
    by_mode = {r.params["methods.optimizer.mode"]: r for r in result.trials}
    assert by_mode["ok"].status == "finished"
    assert by_mode["raise"].status == "failed" and "deliberate failure" in by_mode["raise"].error
    assert by_mode["nan"].status == "failed" and "non-finite" in by_mode["nan"].error
    runs = {r.data.params["methods.optimizer.mode"]: r
            for r in children(store, result.parent_run_id)}
    assert runs["raise"].info.status == "FAILED"
    assert "deliberate failure" in runs["raise"].data.tags["assay.error"]
    assert runs["nan"].data.tags["assay.status"] == "failed"
    study = study_of(store, result.study_name)
    states = sorted(t.state.name for t in study.trials)
    assert states == ["COMPLETE", "FAIL", "FAIL"]


def test_finished_run_keys_are_reused_not_rerun_and_each_cached_trial_has_a_child(store):
    loaded = load(QUICK, SMALL)
    grid = sweep_block(sampler="grid", trials=3,
                       space={"methods.optimizer.lr": {"choice": [1e-3, 3e-3, 1e-2]}})
    first = run_sweep(loaded, sweep=grid, store=store, workers=0, progress=False, plots=False,
                      study_name="first")
    second = run_sweep(loaded, sweep=grid, store=store, workers=0, progress=False, plots=False,
                       study_name="second")
    assert {r.status for r in second.trials} == {"reused"}
    assert sorted(r.values[0] for r in second.trials) == \
        pytest.approx(sorted(r.values[0] for r in first.trials))
    assert second.counts == {"complete": 3} and second.cached == 3 and first.cached == 0
    from assay._drive.sweep.report import counts_line

    assert counts_line(second) == "complete 3 (0 trained, 3 from the run cache)"
    assert_mlflow_matches_study(store, second, 3)
    originals = {r.info.run_id: r for r in children(store, first.parent_run_id)}
    for kid in children(store, second.parent_run_id):
        orig = originals[kid.data.tags["assay.reused_from"]]
        assert kid.data.params == orig.data.params
        assert kid.data.metrics == orig.data.metrics
        assert f"runs/{orig.info.run_id}" in kid.data.tags["mlflow.note.content"]
    assert len(_finished_keys_once(store)) == 3          # the cache itself: trained once


def test_a_resumed_sweep_proposes_new_configurations(store):
    """The sampler's stream continues across runs of the command: asking for more trials
    evaluates new configurations instead of replaying the first ones from the cache."""
    loaded = load(QUICK, SMALL)
    first = run_sweep(loaded, sweep=sweep_block(trials=2), store=store, workers=0,
                      progress=False, plots=False)
    again = run_sweep(loaded, sweep=sweep_block(trials=4), store=store, workers=0,
                      progress=False, plots=False)
    assert first.counts == {"complete": 2} and again.counts == {"complete": 4}
    assert again.cached == 0 and {r.status for r in again.trials} == {"finished"}
    study = study_of(store, again.study_name)
    assert len({t.params["methods.optimizer.lr"] for t in study.trials}) == 4
    assert_mlflow_matches_study(store, again, 4)


def test_a_sweep_where_every_trial_fails_exits_1_with_the_reasons(store, capsys):
    from assay._cli.main import main

    code = main(["sweep", QUICK, "--plugin", CHAOS, "--workers", "0", "--trials", "3",
                 "-o", "methods.optimizer={name: chaos, mode: raise, lr: 0.05}",
                 "-o", "methods.schedule={name: constant}", "-o", "train.steps=10",
                 "-o", "train.eval_every=5", "-o", "model.width=16",
                 "-o", "sweep.sampler=random", "-o", "sweep.space={methods.optimizer.lr: "
                 "{log_uniform: [0.01, 0.1]}}"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "every trial failed" in out
    assert "3 x RuntimeError: chaos: deliberate failure at step 5" in out


def test_a_law_where_every_trial_fails_exits_non_zero_with_the_reasons(store, capsys):
    from assay._cli.main import main

    code = main(["law", QUICK, "--plugin", CHAOS, "--workers", "0",
                 "-o", "methods.optimizer={name: chaos, mode: raise, lr: 0.05}",
                 "-o", "methods.schedule={name: constant}", "-o", "train.steps=10",
                 "-o", "train.eval_every=5", "-o", "model.width=16", "-o", "sweep.trials=5",
                 "-o", "sweep.sampler=random", "-o", "sweep.space={methods.optimizer.lr: "
                 "{log_uniform: [0.01, 0.1]}}", "-o", "law={scale: {model.width: [8, 16, 32]}, "
                 "tune: [methods.optimizer.lr]}"])
    err = capsys.readouterr().err
    assert code != 0
    assert "every trial failed" in err
    assert "5 x RuntimeError: chaos: deliberate failure at step 5" in err


def test_a_second_driver_of_a_study_is_refused_naming_the_first(store, tmp_path):
    import os

    from assay._drive.sweep.lock import StudyLock
    from assay.errors import UserError

    first = StudyLock(store.root, "s")
    first.acquire(None)
    try:
        with pytest.raises(UserError, match=rf"driven by another assay process \(host .*pid "
                                            rf"{os.getpid()}"):
            StudyLock(store.root, "s").acquire(None)
        StudyLock(store.root, "other").acquire(None)     # another study is free
    finally:
        first.release()
    StudyLock(store.root, "s").acquire(None)             # free again once released
    # a shared (sqlite) study storage: two stores, two machines' worth of file locks
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    one = StudyLock(tmp_path / "a", "s", url)
    one.acquire(None)
    try:
        with pytest.raises(UserError, match="lock held in the study storage"):
            StudyLock(tmp_path / "b", "s", url).acquire(None)
    finally:
        one.release()


def test_drivers_in_one_process_share_one_database_storage(store, tmp_path):
    """A law runs a sweep driver per search round, several at once. Each used to open its own
    RDBStorage and so its own connection pool, which a team's PostgreSQL refused past
    max_connections; one storage (one pool) per database URL per process bounds them."""
    from assay._drive.sweep.journal import study_storage

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, where, _ = study_storage(store, "a", url)
    second = study_storage(store, "b", url)[0]
    assert first is second and where == url
    other = study_storage(store, "a", f"sqlite:///{tmp_path / 'other.db'}")[0]
    assert other is not first


def test_sigterm_stops_an_inline_sweep_and_leaves_nothing_running(store):
    """The driver stops asking, marks the running trial preempted in Optuna (and enqueues it
    again) and in MLflow, ends its parent KILLED and raises Interrupted (exit 143)."""
    import os
    import signal
    import threading

    from assay._drive.shutdown import Interrupted
    from assay._drive.sweep import Driver

    assert threading.current_thread() is threading.main_thread()
    loaded = load(QUICK, [*SMALL, "train.steps=400", "methods.optimizer={name: chaos, "
                          "mode: slow, sleep_s: 0.01, lr: 0.05}",
                          "methods.schedule={name: constant}"], plugins=[CHAOS])
    driver = Driver(loaded, sweep_block(trials=3), store=store, workers=0, progress=False,
                    plots=False)

    def kill_when_running():
        deadline = time.time() + 120
        while time.time() < deadline:
            if driver.ledger.running:                     # a run is out (~4 s long)
                time.sleep(1.0)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.05)

    threading.Thread(target=kill_when_running, daemon=True).start()
    with pytest.raises(Interrupted) as stop:
        driver.run()
    assert stop.value.exit_code == 128 + signal.SIGTERM
    result = stop.value.result
    n = result.counts.get("preempted", 0)      # the run training and the one queued behind
    assert result.stopped == "SIGTERM" and n >= 1
    study = study_of(store, result.study_name)
    states = [t.state.name for t in study.trials]
    assert "RUNNING" not in states and states.count("WAITING") == n   # asked again next time
    client = mlflow_client(store)
    assert client.get_run(result.parent_run_id).info.status == "KILLED"
    kids = children(store, result.parent_run_id)
    assert [r.info.status for r in kids] == ["KILLED"] * n
    assert {r.data.tags["assay.status"] for r in kids} == {"preempted"}
    resumed = run_sweep(load(QUICK, SMALL), sweep=sweep_block(trials=2), store=store,
                        workers=0, progress=False, plots=False)   # finishes the study
    study = study_of(store, resumed.study_name)
    assert [t.state.name for t in study.trials].count("COMPLETE") == 2


def test_bad_sweep_blocks_are_user_errors():
    from assay.errors import UserError

    with pytest.raises(UserError, match="sweep.space.methods.optimizer.lr"):
        parse_sweep({"space": {"methods.optimizer.lr": {"log_uniform": [0, 1]}}})
    with pytest.raises(UserError, match="sweep.sampler"):
        parse_sweep({"sampler": "bayes"})


# --- slow: LocalCluster ---------------------------------------------------------------------

@pytest.mark.slow
def test_local_cluster_sweep_of_12_trials_matches_study(store):
    loaded = load(QUICK, SMALL)
    result = run_sweep(loaded, sweep=sweep_block(trials=12, sampler="tpe"), store=store,
                       workers=2, progress=False)
    assert result.counts == {"complete": 12}
    assert_mlflow_matches_study(store, result, 12)
    arts = mlflow_client(store).list_artifacts(result.parent_run_id, "sweep")
    names = {Path(a.path).name for a in arts}
    assert {"trials.csv", "optimization_history.png"} <= names


@pytest.mark.slow
def test_pruning_reaches_live_runs_on_workers(store):
    loaded = load(QUICK, ["train.steps=400", "train.eval_every=20", "model.width=32"])
    sweep = sweep_block(trials=10, sampler="random", pruner="median", n_startup_trials=2,
                        space={"methods.optimizer.lr": {"log_uniform": [1e-5, 3e-2]}})
    result = run_sweep(loaded, sweep=sweep, store=store, workers=2, progress=False, plots=False)
    pruned = [r for r in result.trials if r.status == "pruned"]
    assert pruned, result.counts
    study = study_of(store, result.study_name)
    runs = {r.data.tags["assay.trial"]: r for r in children(store, result.parent_run_id)}
    client = mlflow_client(store)
    for rec in pruned:
        trial = study.trials[rec.number]
        assert trial.state.name == "PRUNED"
        run = runs[str(rec.number)]
        assert run.data.tags["assay.status"] == "pruned" and run.info.status == "KILLED"
        last = max(m.step for m in client.get_metric_history(run.info.run_id, "val/loss"))
        assert last < 400


# --- slow: processes killed under a running sweep ---------------------------------------------

def _sweep_cmd(*extra):
    return [sys.executable, "-m", "assay._cli.main", "sweep", QUICK, "--plugin", CHAOS,
            "-o", "methods.optimizer={name: chaos, mode: slow, sleep_s: 0.02}",
            "-o", "methods.schedule={name: constant}", "-o", "train.steps=100",
            "-o", "train.eval_every=20", "-o", "model.width=16",
            "-o", "sweep.pruner=none", "-o", "sweep.sampler=random", *extra]


def _n_finished(store):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=store.tracking_uri)
    try:
        return len(client.search_runs(
            [e.experiment_id for e in client.search_experiments()],
            "tags.`assay.status` = 'finished'", max_results=1000))
    except Exception:  # store still being created
        return 0


def _wait_for(pred, timeout, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.5)
    return False


def _worker_pids(driver_pid):
    """Dask worker processes: forked from the forkserver (a child of the driver), so its
    children; not the forkserver itself, the resource tracker or the scheduler."""
    import psutil

    servers = [p for p in psutil.Process(driver_pid).children()
               if "forkserver" in " ".join(p.cmdline())]
    return [w.pid for s in servers for w in s.children()]


def _finished_keys_once(store):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=store.tracking_uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                              "tags.`assay.status` = 'finished'", max_results=1000)
    keys = [r.data.tags["assay.run_key"] for r in runs]
    assert len(keys) == len(set(keys)), "a run key finished twice"
    return runs


@pytest.mark.slow
def test_killing_a_worker_loses_nothing(store):
    proc = subprocess.Popen(_sweep_cmd("--trials", "8", "--workers", "2"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True,
                            env={**os.environ, "ASSAY_HOME": str(store.root)})
    try:
        assert _wait_for(lambda: _n_finished(store) >= 2, 240, proc)
        victims = _worker_pids(proc.pid)
        assert victims, "no worker processes found"
        os.kill(victims[0], signal.SIGKILL)
        out, _ = proc.communicate(timeout=400)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out
    assert "left the cluster" in out, out                # the loss is said, not silent
    study = study_of(store, "quickstart")
    assert sum(t.state.name in ("COMPLETE", "FAIL") for t in study.trials) >= 8
    finished = _finished_keys_once(store)
    assert len(finished) >= 7  # the interrupted run is retried (or recorded as lost)


@pytest.mark.slow
def test_driver_sigkill_then_resume_finishes_the_study(store):
    env = {**os.environ, "ASSAY_HOME": str(store.root)}
    proc = subprocess.Popen(_sweep_cmd("--trials", "8", "--workers", "2"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        assert _wait_for(lambda: _n_finished(store) >= 2, 240, proc)
        os.kill(proc.pid, signal.SIGKILL)              # the driver only
        proc.wait(timeout=30)
    finally:
        time.sleep(1)
        try:
            os.killpg(proc.pid, signal.SIGKILL)        # then its orphaned workers
        except ProcessLookupError:
            pass
    out = subprocess.run(_sweep_cmd("--trials", "8", "--workers", "2", "--resume"), env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    study = study_of(store, "quickstart")
    counted = [t for t in study.trials if t.state.name == "COMPLETE"]
    preempted = [t for t in study.trials if t.user_attrs.get("assay_status") == "preempted"]
    assert len(counted) == 8
    assert preempted, "runs in flight at the kill should be marked preempted"
    _finished_keys_once(store)
    client = mlflow_client(store)
    marked = client.search_runs([e.experiment_id for e in client.search_experiments()],
                                "tags.`assay.status` = 'preempted'")
    assert marked and all(r.info.status == "KILLED" for r in marked)


@pytest.mark.slow
def test_two_sweeps_at_once_on_one_store(store):
    """Two studies with the same space and seed, the second started once the first has
    finished runs: it is served some of them from the run cache, and each study's parent
    still has exactly one child per trial."""
    env = {**os.environ, "ASSAY_HOME": str(store.root)}

    def start(name):
        return subprocess.Popen(_sweep_cmd("--trials", "6", "--workers", "1", "--study", name),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env)

    first = start("s0")
    assert _wait_for(lambda: _n_finished(store) >= 2, 240, first), first.communicate()[0]
    procs = [first, start("s1")]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    client = mlflow_client(store)
    cached = 0
    for name in ("s0", "s1"):
        study = study_of(store, name)
        assert len(study.trials) == 6
        parent = client.search_runs(
            [client.get_experiment_by_name("quickstart").experiment_id],
            f"tags.`assay.study` = '{name}' and tags.`assay.kind` = 'sweep'")[0]
        kids = children(store, parent.info.run_id)
        assert sorted(int(r.data.tags["assay.trial"]) for r in kids) == list(range(6))
        for t in study.trials:
            run = next(r for r in kids if r.data.tags["assay.trial"] == str(t.number))
            assert run.info.status == "FINISHED" and run.data.metrics["val/loss"] == t.value
            assert run.data.tags.get("assay.reused_from") == t.user_attrs.get("assay_reused_run")
            cached += "assay.reused_from" in run.data.tags
    assert cached, "the second study was expected to be served from the first one's runs"


# --- e2e: `dask scheduler` + `dask worker` processes ------------------------------------------

def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask(worker_envs: list[dict[str, str]]):
    port = _port()
    dask = shutil.which("dask", path=os.path.dirname(sys.executable)) or "dask"
    sched = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                              "--no-dashboard"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    addr = f"tcp://127.0.0.1:{port}"
    workers = [subprocess.Popen([dask, "worker", addr, "--nthreads", "1", "--nworkers", "1",
                                 "--no-dashboard", "--host", "127.0.0.1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True,
                                env={**os.environ, "OMP_NUM_THREADS": "1", **env})
               for env in worker_envs]
    try:
        from distributed import Client

        with Client(addr, timeout="60s") as c:
            c.wait_for_workers(len(workers), timeout=120)
        yield addr, workers
    finally:
        for p in [*workers, sched]:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in [*workers, sched]:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


@pytest.fixture
def dask_processes():
    yield from _dask([{}, {}])


@pytest.fixture
def dask_one_worker_without_plugins():
    """Two workers; the second loads no installed plugins (as if they were not installed)."""
    yield from _dask([{}, {"ASSAY_DISABLE_PLUGIN_AUTOLOAD": "1"}])


@pytest.mark.e2e
def test_workers_missing_a_plugin_get_no_runs(store, dask_one_worker_without_plugins, caplog):
    from distributed import Client

    addr, _ = dask_one_worker_without_plugins
    loaded = load(QUICK, [*SMALL, "methods.optimizer.name=lion", "methods.optimizer.lr=3e-4"])
    with Client(addr) as c:
        c.get_task_stream()                                # the scheduler records every task
        t0 = time.time()
        with caplog.at_level("WARNING", logger="assay"):
            result = run_sweep(loaded, sweep=sweep_block(trials=6, sampler="random"),
                               store=store, scheduler=addr, progress=False, plots=False)
        stream = c.get_task_stream(start=t0)
        infos = c.run(lambda: os.environ.get("ASSAY_DISABLE_PLUGIN_AUTOLOAD", ""))
    assert result.counts == {"complete": 6}                # no trial failed on the bad worker
    warning = "\n".join(r.message for r in caplog.records)
    assert "1 worker(s) excluded" in warning and "plugin 'lion' is not installed" in warning
    bad = next(a for a, v in infos.items() if v == "1")
    ran = [t["worker"] for t in stream if str(t["key"]).startswith("assay-")]
    assert len(ran) == 6 and bad not in ran                # every run went to the good worker


@pytest.mark.e2e
def test_no_fit_worker_is_a_clear_error(store, dask_one_worker_without_plugins):
    from assay.errors import UserError
    from distributed import Client

    addr, _ = dask_one_worker_without_plugins
    with Client(addr) as c:                                # leave only the bad worker
        infos = c.run(lambda: os.environ.get("ASSAY_DISABLE_PLUGIN_AUTOLOAD", ""))
        good = [a for a, v in infos.items() if v != "1"]
        c.retire_workers(good, close_workers=True)
        c.wait_for_workers(1)
    loaded = load(QUICK, [*SMALL, "methods.optimizer.name=lion"])
    with pytest.raises(UserError, match="no Dask worker can run this experiment"):
        run_sweep(loaded, sweep=sweep_block(trials=2, sampler="random"), store=store,
                  scheduler=addr, progress=False, plots=False)


@pytest.mark.e2e
def test_sweep_on_dask_scheduler_and_worker_processes(store, dask_processes):
    addr, _ = dask_processes
    loaded = load(QUICK, SMALL)
    result = run_sweep(loaded, sweep=sweep_block(trials=12, sampler="tpe"), store=store,
                       scheduler=addr, progress=False, plots=False)
    assert result.counts == {"complete": 12}
    assert_mlflow_matches_study(store, result, 12)
