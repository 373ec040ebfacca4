"""The main job on the embedded defaults (``make demo``): does the best learning rate
transfer across width? Two law studies, muP and the standard parameterization, over MLP
widths 32-256 with a holdout at 512, on a local Dask cluster, recorded in MLflow."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console

console = Console(highlight=False)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"  # the repo's examples/


def run_demo(args: argparse.Namespace) -> int:
    from assay._drive.run import load
    from assay._dispatch.executor import make_executor
    from assay._drive.law import LawStudy, parse_law
    from assay._experiment.space import parse_sweep
    from assay._record.tracking import Store

    import importlib.util

    if importlib.util.find_spec("assay_mup") is None:
        console.print("the mup plugin is not installed: running the quickstart instead")
        return _quickstart()
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
            law = parse_law(loaded.experiment.law)
            sweep = parse_sweep(loaded.experiment.sweep)
            results[label] = LawStudy(loaded, law, sweep, store=store, executor=executor).run()
    finally:
        executor.close()
    console.rule("result")
    for label, r in results.items():
        fit = r.fits["methods.optimizer.lr"]
        h = r.holdout[0]
        console.print(
            f"[bold]{label:>3}[/]: lr* ∝ width^{fit.coef[1]:+.2f}  (95% CI [{fit.ci_low[1]:+.2f}, "
            f"{fit.ci_high[1]:+.2f}], R² {fit.r2:.2f}); holdout width 512: predicted lr "
            f"{h['predicted']['methods.optimizer.lr']:.2e}, measured "
            f"{h['measured']['methods.optimizer.lr']:.2e} "
            f"({h['error_octaves']['methods.optimizer.lr']:+.2f} octaves), loss at prediction / "
            f"best {h['loss_ratio']:.3f}")
        console.print(f"     plots: {r.out_dir}/law_lr.png, {r.out_dir}/landscape_lr.png")
    console.print(f"\ndone in {time.perf_counter() - started:.0f}s; everything is in MLflow at "
                  f"{store.tracking_uri}\nbrowse it:  .venv/bin/assay ui   "
                  "(then open http://127.0.0.1:5000)")
    return 0


def _quickstart() -> int:
    from assay._drive.run import load, run_once
    from assay._record.tracking import Store

    store = Store.resolve()
    run_id, result, _ = run_once(load(str(EXAMPLES / "quickstart.yaml")), store, rerun=True)
    console.print(f"{result.status}: val/loss {result.metrics.get('val/loss'):.4f}; recorded in "
                  f"MLflow run {run_id} at {store.tracking_uri}\nbrowse it: .venv/bin/assay ui")
    return 0
