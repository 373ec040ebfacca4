"""The main job on the embedded defaults (``make demo``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

console = Console(highlight=False)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"  # the repo's examples/


def run_demo(args: argparse.Namespace) -> int:
    from assay.api import load, run_once
    from assay.tracking import Store

    path = EXAMPLES / "quickstart.yaml"
    loaded = load(str(path))
    store = Store.resolve()
    run_id, result, reused = run_once(loaded, store, rerun=True)
    console.print(f"[green]{result.status}[/]: val/loss {result.metrics.get('val/loss'):.4f}, "
                  f"val/acc {result.metrics.get('val/acc', float('nan')):.3f}")
    console.print(f"recorded in MLflow run {run_id}\n  store: {store.tracking_uri}\n"
                  "  browse it: .venv/bin/assay ui   (http://127.0.0.1:5000)")
    return 0
