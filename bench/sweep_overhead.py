"""Sweep overhead and speedup: assay against a bare loop and hand-glued Optuna + MLflow.

    python bench/sweep_overhead.py [--noop-trials 200] [--mlp-trials 64] [--skip-mlp]

Two workloads:
- noop: trials that train nothing (a closed-form objective), so every millisecond is
  orchestration: Optuna ask/tell, Dask round trip, the MLflow child run.
- mlp: digits MLP trials of ~1 s each, timed from command start to exit (worker start-up,
  store creation and imports included), compared with the bare serial loop.
Prints a table of times and ratios. Numbers go to bench/README.md by hand, with the date.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ASSAY = [sys.executable, "-m", "assay.cli"]


def _lrs(n: int, lo: float, hi: float) -> list[float]:
    import numpy as np

    return list(np.exp(np.random.default_rng(0).uniform(np.log(lo), np.log(hi), n)))


def _objective(lr: float) -> float:
    import math

    return (math.log10(lr) + 3) ** 2


# --- noop workload -----------------------------------------------------------------------

def noop_bare(n: int) -> float:
    t = time.perf_counter()
    for lr in _lrs(n, 1e-6, 1.0):
        _objective(lr)
    return (time.perf_counter() - t) / n


def noop_optuna_memory(n: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    t = time.perf_counter()
    for _ in range(n):
        trial = study.ask()
        study.tell(trial, _objective(trial.suggest_float("lr", 1e-6, 1.0, log=True)))
    return (time.perf_counter() - t) / n


def noop_glued(n: int) -> float:
    """What users write today: Optuna + MLflow's fluent API on a sqlite store, a call per value."""
    import mlflow
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        mlflow.set_experiment("glued")

        def objective(trial: optuna.Trial) -> float:
            lr = trial.suggest_float("lr", 1e-6, 1.0, log=True)
            with mlflow.start_run(run_name=f"trial-{trial.number}"):
                mlflow.log_param("lr", lr)
                value = _objective(lr)
                mlflow.log_metric("val/loss", value, step=1)
            return value

        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        study.optimize(objective, n_trials=3)              # store creation not counted
        t = time.perf_counter()
        study.optimize(objective, n_trials=n)
        return (time.perf_counter() - t) / n


def noop_assay(n: int, workers: int) -> tuple[float, float, float]:
    """(steady-state seconds per trial, median completion interval, whole command wall)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        subprocess.run([*ASSAY, "sweep", str(HERE / "noop.yaml"), "--trials", str(n),
                        "--workers", str(workers)], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ, "ASSAY_HOME": f"{tmp}/runs"})
        wall = time.perf_counter() - t
        storage = optuna.storages.JournalStorage(
            JournalFileBackend(f"{tmp}/runs/optuna/bench-noop.journal"))
        trials = optuna.load_study(study_name="bench-noop", storage=storage).trials
    done = sorted(tr.datetime_complete.timestamp() for tr in trials if tr.datetime_complete)
    gaps = [b - a for a, b in zip(done, done[1:])]
    return (done[-1] - done[0]) / (len(done) - 1), statistics.median(gaps), wall


# --- mlp workload ------------------------------------------------------------------------

def _mlp_runs(n: int) -> list:
    from assay.api import load

    return [load(str(HERE / "mlp.yaml"), {"methods.optimizer.lr": lr}).run
            for lr in _lrs(n, 1e-4, 3e-2)]


def mlp_bare(n: int) -> float:
    from assay.loop import execute

    runs = _mlp_runs(n)
    t = time.perf_counter()
    for run in runs:
        execute(run)
    return time.perf_counter() - t


def mlp_glued(n: int) -> float:
    import mlflow
    import optuna

    from assay.api import load
    from assay.loop import execute

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        mlflow.set_experiment("glued-mlp")

        def objective(trial: optuna.Trial) -> float:
            lr = trial.suggest_float("lr", 1e-4, 3e-2, log=True)
            with mlflow.start_run(run_name=f"trial-{trial.number}"):
                mlflow.log_param("lr", lr)
                result = execute(load(str(HERE / "mlp.yaml"), {"methods.optimizer.lr": lr}).run)
                for step, metrics in result.history:
                    for k, v in metrics.items():
                        mlflow.log_metric(k, v, step=step)
            return result.metrics["val/loss"]

        optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).optimize(
            objective, n_trials=n)
        return time.perf_counter() - t


def mlp_two_processes(n: int) -> float:
    """Control: two plain processes, each running half the trials serially, 1 thread each."""
    code = ("import sys, torch; torch.set_num_threads(1); sys.path.insert(0, %r); "
            "import sweep_overhead as b; from assay.loop import execute; "
            "runs = b._mlp_runs(%d)[%d::2]; [execute(r) for r in runs]")
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", code % (str(HERE), n, i)]) for i in (0, 1)]
    for p in procs:
        p.wait()
    return time.perf_counter() - t


def mlp_assay(n: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        subprocess.run([*ASSAY, "sweep", str(HERE / "mlp.yaml"), "--trials", str(n),
                        "--workers", str(workers)], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ, "ASSAY_HOME": f"{tmp}/runs"})
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--noop-trials", type=int, default=200)
    ap.add_argument("--mlp-trials", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-mlp", action="store_true")
    args = ap.parse_args()
    n = args.noop_trials
    print(f"== no-op trials (n={n}): orchestration cost per trial ==")
    bare = noop_bare(n)
    mem = noop_optuna_memory(n)
    glued = noop_glued(n)
    steady, median_gap, wall = noop_assay(n, args.workers)
    print(f"bare loop                        {bare * 1e3:9.3f} ms/trial")
    print(f"Optuna ask/tell, in memory       {mem * 1e3:9.3f} ms/trial")
    print(f"hand-glued Optuna + MLflow       {glued * 1e3:9.3f} ms/trial")
    print(f"assay sweep, {args.workers} workers (steady)   {steady * 1e3:9.3f} ms/trial "
          f"(median gap {median_gap * 1e3:.1f} ms; whole command {wall:.1f} s)")
    print(f"ratio hand-glued / assay         {glued / steady:9.2f}x")
    if args.skip_mlp:
        return
    m = args.mlp_trials
    print(f"\n== {m} digits-MLP trials: whole command, start to exit ==")
    t_bare = mlp_bare(m)
    print(f"bare serial loop                 {t_bare:7.1f} s  ({t_bare / m:.2f} s/trial)  1.00x")
    t_two = mlp_two_processes(m)
    print(f"two plain processes (control)    {t_two:7.1f} s  {t_bare / t_two:5.2f}x")
    t_glued = mlp_glued(m)
    print(f"hand-glued Optuna + MLflow       {t_glued:7.1f} s  {t_bare / t_glued:5.2f}x")
    t_assay = mlp_assay(m, args.workers)
    print(f"assay sweep, {args.workers} workers           {t_assay:7.1f} s  {t_bare / t_assay:5.2f}x")


if __name__ == "__main__":
    main()
