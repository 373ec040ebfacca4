"""Start-up of the commands people run dozens of times a day, against issue 16's targets.

    python bench/startup.py [--repeat 7]

Each command runs ``--repeat`` times in a fresh process after one warm-up run (which fills
the plugin cache and trains the quickstart run once); the table gives medians and the ratios
the issue sets as targets:

- ``assay --help`` and ``assay plugins`` within 2x of ``python -c "import pluggy"``;
- a cached ``assay run examples/quickstart.yaml`` within 1.5x of ``python -c "import mlflow"``.

Everything runs from this interpreter's environment in a temporary folder (its own MLflow
store, cache folder and bytecode cache: ``PYTHONPYCACHEPREFIX``, with
``PYTHONDONTWRITEBYTECODE`` cleared, so every command, the baselines included, runs compiled
as on a user's machine and nothing is written into the checkout), so any user can run it;
nothing outside the standard library is needed. The load average is printed with the table: on a shared machine the medians move.
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

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
ASSAY = str(Path(PY).parent / "assay")
QUICKSTART = str(ROOT / "examples" / "quickstart.yaml")

COMMANDS = {
    "python -c pass": [PY, "-c", "pass"],
    "python -c 'import pluggy'": [PY, "-c", "import pluggy"],
    "assay --help": [ASSAY, "--help"],
    "assay plugins (cached)": [ASSAY, "plugins"],
    "python -c 'import mlflow'": [PY, "-c", "import mlflow"],
    "assay run quickstart (cached)": [ASSAY, "run", QUICKSTART],
}
# (what, against, target ratio)
TARGETS = [("assay --help", "python -c 'import pluggy'", 2.0),
           ("assay plugins (cached)", "python -c 'import pluggy'", 2.0),
           ("assay run quickstart (cached)", "python -c 'import mlflow'", 1.5)]


def once(cmd: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
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
            once(cmd, env, tmp)                                 # warm-up: caches, the run
            times = [once(cmd, env, tmp) for _ in range(args.repeat)]
            medians[name] = statistics.median(times)
        load_after = os.getloadavg()[0]
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


if __name__ == "__main__":
    main()
