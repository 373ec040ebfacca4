"""Time to the first trial: from a command's start until its first run begins training.

    python bench/first_trial.py [--repeat 5]

Issue 16's target: an ``assay sweep`` (2 workers) starts training its first trial within
0.5 s of a plain Python process that imports torch, reads the digits and builds the same MLP
(``bench/mlp.yaml``: width 128, depth 2, AdamW). Both are timed from the moment the command
is started to a mark written just before the first training step:

- the plain process writes it itself, after building model and optimizer;
- assay gets it from ``bench/probe.py``, a plugin file passed with ``--plugin`` whose
  ``assay_run_start`` hook (called by the worker once the run's model, data and methods are
  built, before the first step) appends the time to a file. The probe imports nothing heavy.

``assay run`` (one run in the command's own process) is measured the same way. Each sweep and
run gets a fresh store, so nothing is served from the run cache; the variants run one after
the other in each round, and the table gives medians with each round's difference. Needs
nothing beyond this environment.
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
ASSAY = str(Path(sys.executable).parent / "assay")
TARGET_S = 0.5

PLAIN = r"""
import importlib.util, pathlib, sys, time
import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
folder = pathlib.Path(next(iter(importlib.util.find_spec("sklearn").submodule_search_locations)))
data = np.loadtxt(folder / "datasets" / "data" / "digits.csv.gz", delimiter=",")
x = torch.tensor(data[:, :-1] / 16.0, dtype=torch.float32)
y = torch.tensor(data[:, -1], dtype=torch.long)
model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128),
                            torch.nn.ReLU(), torch.nn.Linear(128, 10))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
with open(sys.argv[1], "a") as f:
    f.write(f"{time.time()}\n")
loss = F.cross_entropy(model(x[:64]), y[:64])
loss.backward()
opt.step()
"""


def first_mark(cmd: list[str], tmp: str, env: dict[str, str]) -> float:
    """Seconds from starting ``cmd`` to the first mark in the probe file (runs to its end)."""
    probe = Path(tmp) / "probe.txt"
    probe.unlink(missing_ok=True)
    env = {**env, "ASSAY_BENCH_PROBE": str(probe)}
    start = time.time()
    out = subprocess.run(cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    marks = [float(t) for t in probe.read_text().split()] if probe.exists() else []
    if not marks:
        raise SystemExit(f"{' '.join(cmd)}: no run started (served from a cache?)")
    return min(marks) - start


def commands(tmp: str, round_: int) -> dict[str, list[str]]:
    mlp, probe = str(HERE / "mlp.yaml"), str(HERE / "probe.py")
    store = lambda name: ["--tracking-uri", f"{tmp}/{name}-{round_}"]
    return {
        "plain process (torch, data, model)": [sys.executable, "-c", PLAIN,
                                               f"{tmp}/probe.txt"],
        "assay run": [ASSAY, "run", mlp, "--plugin", probe, *store("run")],
        "assay sweep, 2 workers": [ASSAY, "sweep", mlp, "--plugin", probe, "--trials", "2",
                                   "--workers", "2", *store("sweep")],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="assay-first-trial-") as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": f"{tmp}/cache",
               "PYTHONPYCACHEPREFIX": f"{tmp}/pycache"}
        for key in ("ASSAY_NO_CACHE", "PYTHONDONTWRITEBYTECODE", "MLFLOW_TRACKING_URI"):
            env.pop(key, None)
        load_before = os.getloadavg()[0]
        for name, cmd in commands(tmp, -1).items():             # warm-up: caches, bytecode
            first_mark(cmd, tmp, env)
        for r in range(args.repeat):
            for name, cmd in commands(tmp, r).items():
                times.setdefault(name, []).append(first_mark(cmd, tmp, env))
        load_after = os.getloadavg()[0]
    plain = times.pop("plain process (torch, data, model)")
    print(f"{os.cpu_count()} cores, load average {load_before:.2f} before, {load_after:.2f} "
          f"after; {args.repeat} rounds\n")
    print("| command | to first step, median (s) | minus plain, median [per round] | "
          f"target (<= {TARGET_S} s) |\n|---|---|---|---|")
    print(f"| plain process | {statistics.median(plain):.2f} | - | - |")
    for name, ts in times.items():
        diffs = [t - p for t, p in zip(ts, plain)]
        shown = " ".join(f"{d:.2f}" for d in diffs)
        med = statistics.median(diffs)
        met = "yes" if med <= TARGET_S else "no"
        print(f"| {name} | {statistics.median(ts):.2f} | {med:+.2f} [{shown}] | "
              f"{met if 'sweep' in name else '(not a target)'} |")


if __name__ == "__main__":
    main()
