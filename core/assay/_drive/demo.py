"""The main job on the embedded defaults (``make demo``): does the best Adam learning rate
transfer across width under muP, and not under the standard parameterization (SP)?

Two law studies (examples/mup_transfer.yaml) over MLP widths 16-256 with a holdout at 512, on
a local Dask cluster, recorded in MLflow. The design is the one ``bench/law_calibration.py``
calibrates: every width and the holdout searched with its own sampler seed until its optimum
is bracketed, a random-effects fit with intervals that include the lack of fit.

The answer is read from the exponent's 95% interval against a rule fixed here, before any
number is seen (the mup plugin's claim uses the same one): the optimum "transfers" when it
drifts by less than one octave over 8x width, |exponent| < 1/3.

- muP transfers when its interval lies inside (-1/3, 1/3);
- SP does not transfer when its interval lies outside it;
- anything else is inconclusive, and the demo says so.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from rich.console import Console

console = Console(highlight=False)
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"  # the repo's examples/
LR = "methods.optimizer.lr"
DRIFT = 1 / 3            # |exponent| below this: under one octave of drift over 8x width


def transfer(low: float, high: float) -> str:
    """'transfers', 'does not transfer' or 'inconclusive' for an exponent's interval."""
    if -DRIFT < low and high < DRIFT:
        return "transfers"
    if high < -DRIFT or low > DRIFT:
        return "does not transfer"
    return "inconclusive"


def run_demo(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("assay_mup") is None:
        console.print("the mup plugin is not installed: running the quickstart instead")
        return _quickstart()
    results, store, wall = _studies(args)
    console.rule("result")
    for label, r in results.items():
        _report(label, r)
    console.print(f"\ndone in {wall:.0f}s (driver CPU {time.process_time():.0f}s); everything "
                  f"is in MLflow at {store.tracking_uri}\nbrowse it:  .venv/bin/assay ui   "
                  "(then open http://127.0.0.1:5000)")
    return 0 if all(r.fits for r in results.values()) else 1


def _studies(args: argparse.Namespace) -> tuple[dict[str, Any], Any, float]:
    from assay._dispatch.executor import make_executor
    from assay._drive.law import LawStudy, check_law, parse_law
    from assay._drive.law_report import print_law
    from assay._drive.run import load
    from assay._experiment.space import parse_sweep
    from assay._record.tracking import Store

    path = str(EXAMPLES / "mup_transfer.yaml")
    store = Store.resolve()
    started = time.perf_counter()
    base = load(path)
    executor = make_executor(args.workers, None, store.root, kind="demo",
                             warm=(base.registry.sources, base.run.model_dump_json()))
    arms = {"muP": {}, "SP": {"methods.parameterization": {"name": "mup-sp"},
                              "name": "mup-transfer-sp"}}
    results = {}
    try:
        for label, overrides in arms.items():
            console.rule(f"{label}: best Adam learning rate vs MLP width")
            loaded = load(path, overrides)
            law, sweep = parse_law(loaded.experiment.law), parse_sweep(loaded.experiment.sweep)
            check_law(law, sweep)
            results[label] = LawStudy(loaded, law, sweep, store=store, executor=executor).run()
            print_law(results[label], loaded, store)
    finally:
        executor.close()
    return results, store, time.perf_counter() - started


def _report(label: str, r: Any) -> None:
    if not r.fits:
        console.print(f"[bold]{label:>3}[/]: no law ({r.refused})")
        return
    fit = r.fits[LR]
    lo, hi = float(fit.ci_low[1]), float(fit.ci_high[1])
    censored = sum(bool(p.censored) for p in r.points)
    line = (f"[bold]{label:>3}[/]: lr* ∝ width^{fit.coef[1]:+.2f} (95% interval [{lo:+.2f}, "
            f"{hi:+.2f}], lack of fit {fit.tau / 0.6931:.2f} octaves, {fit.n_points} of "
            f"{len(r.points)} widths bracketed{'' if not censored else f', {censored} censored'})"
            f": the optimum {transfer(lo, hi)} (rule: |exponent| < 1/3)")
    console.print(line)
    for h in r.holdout:
        plo, phi = h["interval"][LR]
        console.print(
            f"     holdout width 512: predicted lr {h['predicted'][LR]:.2e} [{plo:.2e}, "
            f"{phi:.2e}], measured {h['measured'][LR]:.2e} ({h['error_octaves'][LR]:+.2f} "
            f"octaves{', censored' if h['censored'][LR] else ''}), loss at prediction / best "
            f"{h['loss_ratio']:.3f}")
    console.print(f"     plots: {r.out_dir}/law_lr.png, {r.out_dir}/landscape_lr.png")


def _quickstart() -> int:
    from assay._drive.run import load, run_once
    from assay._record.tracking import Store

    store = Store.resolve()
    run_id, result, _ = run_once(load(str(EXAMPLES / "quickstart.yaml")), store, rerun=True)
    console.print(f"{result.status}: val/loss {result.metrics.get('val/loss'):.4f}; recorded in "
                  f"MLflow run {run_id} at {store.tracking_uri}\nbrowse it: .venv/bin/assay ui")
    return 0
