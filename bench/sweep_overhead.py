"""Sweep overhead and speedup: assay against a bare loop and hand-glued Optuna + MLflow.

    python bench/sweep_overhead.py [--noop-trials 200] [--mlp-trials 64] [--repeat 3]
                                   [--skip-noop | --skip-mlp]

Two workloads:
- noop: trials that train nothing (a closed-form objective), so every millisecond is
  orchestration: Optuna ask/tell, Dask round trip, the MLflow child run.
- mlp: digits MLP trials of ~1 s each. Every variant is one command timed from its start to
  its exit (imports, worker start-up and store creation included, as the issue counts
  them), in rounds that run all four variants one after the other; medians are reported,
  and each round's ratios, because this VM's speed drifts between minutes.
Every command shares one bytecode cache outside the checkout, filled by an untimed 2-trial
run of each MLP variant (as bench/startup.py: no variant compiles what another did not).
Prints a table of times and ratios. Numbers go to bench/README.md by hand, with the date.
"""
from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ASSAY = [sys.executable, "-m", "assay._cli.main"]


def _env(tmp: str) -> dict[str, str]:
    """A clean environment for a command: its own store, and none of the settings that
    would point it elsewhere. (``mlflow.set_tracking_uri``, which the hand-glued variant
    calls in this process, also sets MLFLOW_TRACKING_URI in ``os.environ``: inherited, it
    sent later assay commands to one shared store, where they reused each other's runs.)"""
    drop = {"MLFLOW_TRACKING_URI", "ASSAY_STUDY_STORAGE", "ASSAY_SCHEDULER", "ASSAY_WORKERS",
            "PYTHONDONTWRITEBYTECODE"}
    return {**{k: v for k, v in os.environ.items() if k not in drop},
            "ASSAY_HOME": f"{tmp}/runs", "PYTHONPYCACHEPREFIX": _pycache()}


@functools.cache
def _pycache() -> str:
    """One bytecode cache for every command of this bench run, outside the checkout (as
    bench/startup.py): under PYTHONDONTWRITEBYTECODE, which some environments set, every
    process compiles the editable packages (assay and its plugins) from source at each start,
    which a user's machine does once. ``warm_up`` fills it before anything is timed."""
    return tempfile.mkdtemp(prefix="assay-bench-pycache-")


def warm_up(workers: int) -> None:
    """Every MLP variant once on 2 trials, untimed: fills the bytecode cache (and the plugin
    cache) so that no timed command compiles what another did not."""
    for kind in MLP_KINDS:
        mlp_command(kind, 2, workers)


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
                       stdout=subprocess.DEVNULL, env=_env(tmp))
        wall = time.perf_counter() - t
        storage = optuna.storages.JournalStorage(
            JournalFileBackend(f"{tmp}/runs/optuna/bench-noop.journal"))
        trials = optuna.load_study(study_name="bench-noop", storage=storage).trials
    done = sorted(tr.datetime_complete.timestamp() for tr in trials if tr.datetime_complete)
    gaps = [b - a for a, b in zip(done, done[1:])]
    return (done[-1] - done[0]) / (len(done) - 1), statistics.median(gaps), wall


# --- mlp workload ------------------------------------------------------------------------

def _mlp_runs(n: int) -> list:
    from assay._drive.run import load

    return [load(str(HERE / "mlp.yaml"), {"methods.optimizer.lr": lr}).run
            for lr in _lrs(n, 1e-4, 3e-2)]


def bare_body(n: int, part: int = 0, parts: int = 1) -> None:
    """The bare loop: the training function called on each setting, nothing else."""
    from assay._run.loop import execute

    for run in _mlp_runs(n)[part::parts]:
        execute(run)


def glued_body(n: int) -> None:
    """What users write today: Optuna's optimize loop, a fluent-API MLflow run per trial."""
    import mlflow
    import optuna
    from assay._drive.run import load
    from assay._run.loop import execute

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    mlflow.set_tracking_uri(f"sqlite:///{os.getcwd()}/mlflow.db")
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


def _py(call: str) -> list[str]:
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import sweep_overhead as b; b.{call}"
    return [sys.executable, "-c", code]


def mlp_command(kind: str, n: int, workers: int) -> float:
    """Wall time of one whole command, from its start to its exit (imports, worker start-up
    and store creation included), run in a fresh folder."""
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(tmp)
        if kind == "bare":
            cmds = [_py(f"bare_body({n})")]
        elif kind == "two":                     # control: half the trials each, 1 thread
            cmds = [_py(f"torch_threads(1); b.bare_body({n}, {i}, 2)") for i in (0, 1)]
        elif kind == "glued":
            cmds = [_py(f"glued_body({n})")]
        else:
            cmds = [[*ASSAY, "sweep", str(HERE / "mlp.yaml"), "--trials", str(n),
                     "--workers", str(workers)]]
        t = time.perf_counter()
        procs = [subprocess.Popen(c, cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True) for c in cmds]
        errs = [p.communicate()[1] for p in procs]
        wall = time.perf_counter() - t
        if any(p.returncode for p in procs):
            raise SystemExit(f"{kind}: a command failed\n" + "\n".join(errs))
        if kind == "assay":                     # every trial trained here, none reused
            import sqlite3

            con = sqlite3.connect(f"{tmp}/runs/mlflow.db")
            trained = con.execute("SELECT COUNT(*) FROM tags WHERE key = 'assay.status' "
                                  "AND value = 'finished'").fetchone()[0]
            con.close()
            if trained < n:
                raise SystemExit(f"assay trained {trained} of {n} trials in its own store")
        return wall


def torch_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


MLP_KINDS = {"bare": "bare serial loop", "two": "two plain processes (control)",
             "glued": "hand-glued Optuna + MLflow", "assay": "assay sweep"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--noop-trials", type=int, default=200)
    ap.add_argument("--mlp-trials", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-mlp", action="store_true")
    ap.add_argument("--skip-noop", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="no-op assay sweeps, and MLP rounds (each runs all four)")
    args = ap.parse_args()
    if not args.skip_noop:
        n = args.noop_trials
        print(f"== no-op trials (n={n}): orchestration cost per trial ==")
        bare = noop_bare(n)
        mem = noop_optuna_memory(n)
        glued = noop_glued(n)
        runs = sorted((noop_assay(n, args.workers) for _ in range(args.repeat)),
                      key=lambda r: r[0])
        steady, median_gap, wall = runs[len(runs) // 2]             # the median run
        print(f"bare loop                        {bare * 1e3:9.3f} ms/trial")
        print(f"Optuna ask/tell, in memory       {mem * 1e3:9.3f} ms/trial")
        print(f"hand-glued Optuna + MLflow       {glued * 1e3:9.3f} ms/trial")
        print(f"assay sweep, {args.workers} workers (steady)   {steady * 1e3:9.3f} ms/trial "
              f"(median of {len(runs)} sweeps, range {runs[0][0] * 1e3:.1f}-"
              f"{runs[-1][0] * 1e3:.1f}; median gap {median_gap * 1e3:.1f} ms; "
              f"whole command {wall:.1f} s)")
        print(f"ratio hand-glued / assay         {glued / steady:9.2f}x")
    if args.skip_mlp:
        return
    m, reps = args.mlp_trials, args.repeat
    print(f"\n== {m} digits-MLP trials: whole command, start to exit; "
          f"{reps} interleaved round(s), median [min-max] ==")
    times: dict[str, list[float]] = {k: [] for k in MLP_KINDS}
    warm_up(args.workers)
    for r in range(reps):
        for kind in MLP_KINDS:
            times[kind].append(mlp_command(kind, m, args.workers))
        print(f"round {r + 1}: " + "  ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()),
              flush=True)
    bare = statistics.median(times["bare"])
    for kind, label in MLP_KINDS.items():
        t = times[kind]
        ratios = [b / x for b, x in zip(times["bare"], t)]     # within a round
        if kind == "assay":
            label = f"assay sweep, {args.workers} workers"
        print(f"{label:33s}{statistics.median(t):7.1f} s [{min(t):.1f}-{max(t):.1f}]  "
              f"{bare / statistics.median(t):5.2f}x  (per round: "
              + " ".join(f"{x:.2f}" for x in ratios) + ")")
    ctl = [x / a for x, a in zip(times["two"], times["assay"])]
    print("assay's speed against the two-process control, per round: "
          + " ".join(f"{x:.2f}" for x in ctl))

if __name__ == "__main__":
    main()
