"""The CLI's commands (imported only when a command runs)."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text


console = Console(highlight=False)


def _store(args: argparse.Namespace):  # noqa: ANN202
    from assay.tracking import Store

    return Store.resolve(getattr(args, "tracking_uri", None))


def _show_plugin_warnings(reg) -> None:  # noqa: ANN001
    for name, err in reg.broken.items():
        console.print(Text(f"warning: plugin {name!r} is broken and was skipped: {err}",
                           style="yellow"), soft_wrap=True)


def cmd_plugins(args: argparse.Namespace) -> int:
    from assay.api import _abs
    from assay.plugins import registry

    reg = registry(tuple(_abs(p, Path(".")) for p in args.plugin))
    _show_plugin_warnings(reg)
    for name, info in reg.plugins.items():
        papers = sorted({str(reg.get(k, c).paper) for (k, c), owner in reg.owner.items()
                         if owner == name and reg.get(k, c).paper})
        head = Text(name, style="bold") + Text(f" {info.version}")
        if info.source not in ("builtin", "entry-point"):
            head += Text(f"  ({info.source})", style="dim")
        console.print(head)
        for paper in papers:
            console.print(Text(f"  paper: {paper}", style="cyan"), soft_wrap=True)
        for kind in ("dataset", "model", "method", "backend", "study"):
            comps = sorted(c for (k, c), owner in reg.owner.items() if owner == name and k == kind)
            if comps:
                label = ", ".join(c + (f" ({reg.get(kind, c).slot})" if kind == "method" else "")  # type: ignore[attr-defined]
                                  for c in comps)
                console.print(Text(f"  {kind}s: {label}"), soft_wrap=True)
        claims = [c.id for c in reg.claims.values() if c.plugin == name]
        if claims:
            console.print(Text(f"  claims: {', '.join(claims)}"), soft_wrap=True)
    for name, err in reg.broken.items():
        console.print(Text(f"{name}", style="bold red") + Text(f" BROKEN: {err}", style="red"),
                      soft_wrap=True)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from assay.api import load, run_once

    loaded = load(args.experiment, args.override, args.plugin)
    _show_plugin_warnings(loaded.registry)
    store = _store(args)
    console.print(f"run [bold]{loaded.run.key}[/]: {loaded.run.model['name']} on "
                  f"{loaded.run.dataset['name']}, {loaded.run.train.steps} steps")
    run_id, result, reused = run_once(loaded, store, rerun=args.rerun)
    if reused:
        console.print(f"already finished (same run key): MLflow run {run_id}; "
                      "pass --rerun to train again")
        metrics = result
    else:
        metrics = result.metrics
        style = {"finished": "green", "pruned": "yellow", "failed": "red"}[result.status]
        console.print(Text(f"{result.status}", style=style) +
                      Text(f" {result.error}" if result.error else ""))
    shown = {k: v for k, v in metrics.items() if "/" in k and not k.startswith("cost/")}
    console.print("  " + "  ".join(f"{k}={v:.4g}" for k, v in sorted(shown.items())))
    console.print(f"recorded in MLflow run {run_id} at {store.tracking_uri}\n"
                  "browse: assay ui")
    return 0 if reused or result.status != "failed" else 1


def cmd_schema(args: argparse.Namespace) -> int:
    from assay.schema import write_schemas

    files = write_schemas(Path(args.out))
    console.print(f"wrote {len(files)} schema files to {args.out}/")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    store = _store(args)
    from assay.tracking import open_store

    open_store(store)
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store.tracking_uri,
           "--default-artifact-root", store.artifact_root, "--host", "127.0.0.1",
           "--port", str(args.port), "--workers", "1"]  # one user, fast start
    console.print(f"MLflow UI for {store.tracking_uri} at http://127.0.0.1:{args.port}")
    return subprocess.call(cmd)


def cmd_new(args: argparse.Namespace) -> int:
    from assay.scaffold import new_plugin

    path = new_plugin(args.name, Path(args.dir))
    console.print(f"created {path}/ — install it with: pip install -e {path}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from assay.sweep import run_sweep_cli

    return run_sweep_cli(args)


def cmd_law(args: argparse.Namespace) -> int:
    from assay.law import run_law_cli

    return run_law_cli(args)


def cmd_verify(args: argparse.Namespace) -> int:
    from assay.verify import run_verify_cli

    return run_verify_cli(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from assay.demo import run_demo

    return run_demo(args)


