"""Start-up of the commands people run dozens of times a day, against issue 16's targets.

    python bench/startup.py [--repeat 7]

Each command runs ``--repeat`` times in a fresh process after one warm-up run (which fills
the plugin cache and trains the quickstart run once); the table gives medians and the ratios
the issue sets as targets:

- ``assay --help`` and ``assay plugins`` within 2x of ``python -c "import pluggy"``;
- a cached ``assay run examples/quickstart.yaml`` within 1.5x of ``python -c "import mlflow"``.

It also times a refused ``assay run`` (a misspelt field: validated from the plugin cache,
exit 2), of the quickstart and of a plugin's experiment (grad-noise, whose optimizer wraps
another), against ``python -c "import torch"``, which validation used to need.

Time to the first trial (``--sweep-repeat`` runs, after the others): ``assay sweep
examples/quickstart.yaml --workers 2`` from the command's start until its first trial
starts training, against a plain process that imports torch, reads the digits and takes one
AdamW step of the same MLP (its whole run). The first trial's start is seen through a plugin
file given with ``--plugin`` whose ``assay_run_start`` hook (called on the worker just before
a run's first step) appends the wall-clock time to a file the bench polls; the workers'
warm-up run (one step, before any trial) calls it too and is left out. Each sweep gets a
fresh store, so no trial is served from the run cache. The same sweep with
``ASSAY_NO_CACHE=1`` (the driver loads every plugin, and torch, as it did before issue 16)
is timed beside it. Target: within 0.5 s of the plain process.

Everything runs from this interpreter's environment in a temporary folder (its own MLflow
store, cache folder and bytecode cache: ``PYTHONPYCACHEPREFIX``, with
``PYTHONDONTWRITEBYTECODE`` cleared, so every command, the baselines included, runs compiled
as on a user's machine and nothing is written into the checkout), so any user can run it;
nothing outside the standard library is needed. The load average is printed with the table: on a shared machine the medians move.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
ASSAY = str(Path(PY).parent / "assay")
QUICKSTART = str(ROOT / "examples" / "quickstart.yaml")
# a plugin's experiment whose optimizer wraps another (a nested reference to validate)
GRAD_NOISE = str(ROOT / "plugins" / "grad-noise" / "assay_grad_noise" / "configs"
                 / "noise_deep_mlp.yaml")

COMMANDS = {
    "python -c pass": [PY, "-c", "pass"],
    "python -c 'import pluggy'": [PY, "-c", "import pluggy"],
    "assay --help": [ASSAY, "--help"],
    "assay plugins (cached)": [ASSAY, "plugins"],
    "python -c 'import mlflow'": [PY, "-c", "import mlflow"],
    "assay run quickstart (cached)": [ASSAY, "run", QUICKSTART],
    "python -c 'import torch'": [PY, "-c", "import torch"],
    "assay run quickstart -o model.widht=3 (refused)": [ASSAY, "run", QUICKSTART,
                                                        "-o", "model.widht=3"],
    "assay run grad-noise -o model.widht=3 (refused)": [ASSAY, "run", GRAD_NOISE,
                                                        "-o", "model.widht=3"],
}
REFUSED = {"assay run quickstart -o model.widht=3 (refused)",   # exit 2 is the point
           "assay run grad-noise -o model.widht=3 (refused)"}
# (what, against, target ratio)
TARGETS = [("assay --help", "python -c 'import pluggy'", 2.0),
           ("assay plugins (cached)", "python -c 'import pluggy'", 2.0),
           ("assay run quickstart (cached)", "python -c 'import mlflow'", 1.5)]
# (what, against): no target set, shown as ratios
RATIOS = [("assay run quickstart -o model.widht=3 (refused)", "python -c 'import torch'"),
          ("assay run grad-noise -o model.widht=3 (refused)", "python -c 'import torch'")]


def once(cmd: list[str], env: dict[str, str], cwd: str, code: int = 0) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != code:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}, not {code}")
    return elapsed


PLAIN_TRAIN = """
import importlib.util, pathlib
import numpy as np
import torch
folder = pathlib.Path(next(iter(importlib.util.find_spec("sklearn").submodule_search_locations)))
data = np.loadtxt(folder / "datasets" / "data" / "digits.csv.gz", delimiter=",")
x = torch.tensor(data[:64, :-1] / 16.0, dtype=torch.float32)
y = torch.tensor(data[:64, -1], dtype=torch.int64)
model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128),
                            torch.nn.ReLU(), torch.nn.Linear(128, 10))
opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
loss = torch.nn.functional.cross_entropy(model(x), y)
loss.backward()
opt.step()
"""

MARK_PLUGIN = """
import os, time
from assay import hookimpl

@hookimpl
def assay_run_start(run):
    with open(os.environ["ASSAY_BENCH_MARK"], "a") as f:
        f.write(f"{time.time()} {run.train.steps}\\n")
"""
SWEEP_ARGS = ["--trials", "2", "--workers", "2", "-o", "train.steps=20",
              "-o", "train.eval_every=10"]


def first_trial(env: dict[str, str], tmp: str, i: int, label: str) -> float:
    """Seconds from starting ``assay sweep`` to its first trial's first step (see above)."""
    mark, plugin = Path(tmp) / f"mark-{label}-{i}", Path(tmp) / "first_trial_mark.py"
    if not plugin.exists() or plugin.read_text() != MARK_PLUGIN:
        plugin.write_text(MARK_PLUGIN)   # once: a new mtime invalidates the plugin cache
    run_env = {**env, "ASSAY_HOME": f"{tmp}/sweep-{label}-{i}", "ASSAY_BENCH_MARK": str(mark)}
    start = time.time()
    done = subprocess.run([ASSAY, "sweep", QUICKSTART, *SWEEP_ARGS, "--plugin", str(plugin)],
                          env=run_env, cwd=tmp, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False)
    if done.returncode != 0 or not mark.exists():
        raise SystemExit(f"assay sweep exited {done.returncode} (mark file: {mark.exists()})")
    # a worker's warm-up (one step of the experiment, before any trial) calls the hook too;
    # only the trials' marks (train.steps=20 here) count
    marks = [float(t) for t, steps in (line.split() for line in mark.read_text().splitlines())
             if steps != "1"]
    if not marks:
        raise SystemExit("assay sweep: no trial started")
    return min(marks) - start


def sweep_table(env: dict[str, str], tmp: str, repeat: int) -> None:
    plain = [once([PY, "-c", PLAIN_TRAIN], env, tmp) for _ in range(repeat + 1)][1:]
    first_trial(env, tmp, -1, "warm")            # fills the plugin cache for --plugin
    light = [first_trial(env, tmp, i, "light") for i in range(repeat)]
    full = [first_trial({**env, "ASSAY_NO_CACHE": "1"}, tmp, i, "full") for i in range(repeat)]
    rows = {"plain process: import torch, one digits-MLP step": statistics.median(plain),
            "assay sweep: start to first trial's first step": statistics.median(light),
            "same, ASSAY_NO_CACHE=1 (driver loads the plugins)": statistics.median(full)}
    print(f"\ntime to the first trial, median of {repeat}\n\n| what | median (s) |\n|---|---|")
    for name, t in rows.items():
        print(f"| {name} | {t:.2f} |")
    gap = rows["assay sweep: start to first trial's first step"] - statistics.median(plain)
    print(f"\nfirst trial - plain process = {gap:.2f} s (target <= 0.5 s: "
          f"{'met' if gap <= 0.5 else 'not met'})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--sweep-repeat", type=int, default=3,
                    help="time-to-first-trial runs (0: skip)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="assay-startup-") as tmp:
        env = {**os.environ, "ASSAY_HOME": f"{tmp}/runs", "XDG_CACHE_HOME": f"{tmp}/cache",
               "PYTHONPYCACHEPREFIX": f"{tmp}/pycache"}
        env.pop("ASSAY_NO_CACHE", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)     # compiled once, as on a user's machine
        env.pop("MLFLOW_TRACKING_URI", None)
        load_before = os.getloadavg()[0]
        medians = {}
        for name, cmd in COMMANDS.items():
            code = 2 if name in REFUSED else 0
            once(cmd, env, tmp, code)                           # warm-up: caches, the run
            times = [once(cmd, env, tmp, code) for _ in range(args.repeat)]
            medians[name] = statistics.median(times)
        load_after = os.getloadavg()[0]
        if args.sweep_repeat:
            sweep_out = io.StringIO()
            with contextlib.redirect_stdout(sweep_out):
                sweep_table(env, tmp, args.sweep_repeat)
    print(f"{os.cpu_count()} cores, load average {load_before:.2f} before, "
          f"{load_after:.2f} after; median of {args.repeat} runs each\n")
    print("| command | median (s) |\n|---|---|")
    for name, t in medians.items():
        print(f"| `{name}` | {t:.3f} |")
    print("\n| target | ratio | target ratio | met |\n|---|---|---|---|")
    for what, base, target in TARGETS:
        ratio = medians[what] / medians[base]
        print(f"| `{what}` / `{base}` | {ratio:.2f} | <= {target:g} | "
              f"{'yes' if ratio <= target else 'no'} |")
    for what, base in RATIOS:
        print(f"| `{what}` / `{base}` | {medians[what] / medians[base]:.2f} | (none) | - |")
    if args.sweep_repeat:
        print(sweep_out.getvalue(), end="")


if __name__ == "__main__":
    main()
