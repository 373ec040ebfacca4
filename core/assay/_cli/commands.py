"""The CLI's commands (imported only when a command runs)."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

from assay._cli.listing import cmd_plugins  # noqa: F401 - the command table names every command


console = Console(highlight=False)


def _store(args: argparse.Namespace):  # noqa: ANN202
    from assay._record.tracking import Store

    return Store.resolve(getattr(args, "tracking_uri", None))


def _show_plugin_warnings(reg) -> None:  # noqa: ANN001
    _warn_broken(reg.broken)


def _warn_broken(broken: dict[str, str]) -> None:
    for name, err in broken.items():
        console.print(Text(f"warning: plugin {name!r} is broken and was skipped: {err}",
                           style="yellow"), soft_wrap=True)


def cmd_run(args: argparse.Namespace) -> int:
    from assay._drive.known_run import remember
    from assay._drive.run import load, run_once

    loaded = load(args.experiment, args.override, args.plugin)
    _show_plugin_warnings(loaded.registry)
    store = _store(args)
    run = loaded.run
    _print_run_header(run.key, run.model["name"], run.dataset["name"], run.train.steps)
    run_id, result, reused = run_once(loaded, store, rerun=args.rerun)
    if reused or result.status == "finished":
        remember(args, loaded)              # the next `assay run` of it answers at once
    if reused:
        _print_reused(run_id, result, store)
        return 0
    style = {"finished": "green", "pruned": "yellow", "failed": "red"}[result.status]
    console.print(Text(f"{result.status}", style=style) +
                  Text(f" {result.error}" if result.error else ""))
    _print_metrics(result.metrics, run_id, store)
    return 0 if result.status != "failed" else 1


def known_run(found: dict) -> int:
    """``assay run`` of a finished run, from assay._drive.known_run: the same lines."""
    _warn_broken(found["broken"])
    _print_run_header(found["key"], found["model"], found["dataset"], found["steps"])
    _print_reused(found["run_id"], found["metrics"], found["store"])
    return 0


def _print_run_header(key: str, model: str, dataset: str, steps: int) -> None:
    console.print(f"run [bold]{key}[/]: {model} on {dataset}, {steps} steps")


def _print_reused(run_id: str, metrics: dict, store) -> None:  # noqa: ANN001
    console.print(f"already finished (same run key): MLflow run {run_id}; "
                  "pass --rerun to train again")
    _print_metrics(metrics, run_id, store)


def _print_metrics(metrics: dict, run_id: str, store) -> None:  # noqa: ANN001
    shown = {k: v for k, v in metrics.items() if "/" in k and not k.startswith("cost/")}
    console.print("  " + "  ".join(f"{k}={v:.4g}" for k, v in sorted(shown.items())))
    console.print(f"recorded in MLflow run {run_id} at {store.tracking_uri}\n"
                  "browse: assay ui")


def cmd_schema(args: argparse.Namespace) -> int:
    from assay._cli.schema import write_schemas

    files = write_schemas(Path(args.out))
    console.print(f"wrote {len(files)} schema files to {args.out}/")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    """The MLflow UI on the store (a tracking server already serves its own), and the direct
    URL of an experiment's runs table or a study's parent run (assay._record.links)."""
    from assay._record import links
    from assay._record.tracking import open_store

    store = _store(args)
    client = open_store(store)
    base = links.ui_base(store, args.port)
    serve = not store.tracking_uri.startswith(("http://", "https://"))
    url = _ui_target(client, base, args.target) if args.target else base
    if args.target:
        console.print(url, soft_wrap=True)
    else:
        console.print(f"MLflow UI for {store.tracking_uri} at {base}", soft_wrap=True)
        for exp in client.search_experiments(max_results=50):
            console.print(f"  {exp.name}: {links.runs_url(base, exp.experiment_id)}",
                          soft_wrap=True)
    if serve and _up(base):
        console.print(f"(a UI already answers at {base}: not starting another)")
        serve = False
    sys.stdout.flush()
    if not serve:
        return _open(url) if args.open else 0
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store.tracking_uri,
           "--default-artifact-root", store.artifact_root, "--host", "127.0.0.1",
           "--port", str(args.port), "--workers", "1"]  # one user, fast start
    server = subprocess.Popen(cmd)
    try:
        if args.open and _answers(base, server):
            _open(url)
        return server.wait()
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)


def _ui_target(client, base: str, name: str) -> str:  # noqa: ANN001
    """An experiment's runs table, else the parent run of the newest study of that name."""
    from assay._drive.show import find_parent, study_names
    from assay._record import links
    from assay.errors import UserError, did_you_mean

    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return links.runs_url(base, exp.experiment_id)
    parent = find_parent(client, name)
    if parent is not None:
        return links.run_url(base, parent.info.experiment_id, parent.info.run_id)
    exps = [e.name for e in client.search_experiments(max_results=1000)]
    choices = list(dict.fromkeys(exps + study_names(client)))
    raise UserError(f"no experiment or study named {name!r} in {client.tracking_uri}."
                    f"{did_you_mean(name, choices)} Known: {', '.join(choices[:20]) or 'none'}")


def _up(base: str) -> bool:
    import urllib.request

    try:
        urllib.request.urlopen(base, timeout=1).close()
        return True
    except OSError:
        return False


def _answers(base: str, server: subprocess.Popen, timeout: float = 60.0) -> bool:
    """Wait until the UI answers (False if the server exited first)."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end and server.poll() is None:
        if _up(base):
            return True
        time.sleep(0.3)
    return False


def _open(url: str) -> int:
    import webbrowser

    if not webbrowser.open(url):
        console.print("no browser found here: open the URL above yourself")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from assay._drive.show import show

    return show(args.study, _store(args), args.study_storage, args.top)


def cmd_new(args: argparse.Namespace) -> int:
    from assay._cli.scaffold import new_plugin

    path = new_plugin(args.name, Path(args.dir))
    console.print(f"created {path}/ — install it with: pip install -e {path}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from assay._drive.sweep import run_sweep_cli

    return run_sweep_cli(args)


def cmd_law(args: argparse.Namespace) -> int:
    from assay._drive.law import run_law_cli

    return run_law_cli(args)


def cmd_verify(args: argparse.Namespace) -> int:
    from assay._drive.verify import run_verify_cli

    return run_verify_cli(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from assay._drive.demo import run_demo

    return run_demo(args)




def cmd_doctor(args: argparse.Namespace) -> int:
    """What assay will connect to (and from where it got each setting), whether each part
    answers, and what every Dask worker carries against this driver's plugins."""
    import os

    from rich.table import Table

    from assay._experiment import settings
    from assay._dispatch.executor import mismatches, worker_info
    from assay._experiment.settings import redact

    s = settings.resolve(args)
    store = _store(args)
    problems = 0

    def src(key: str, default: str) -> str:
        return s.source.get(key, default)

    console.print(f"config file: {s.file or 'none (embedded defaults)'}")
    table = Table(title="connections")
    for col in ("part", "where", "set by", "status"):
        table.add_column(col, overflow="fold")
    try:
        from assay._record.tracking import open_store

        n = len(open_store(store).search_experiments(max_results=1000))
        status = f"[green]ok[/] ({n} experiments)"
    except Exception as exc:  # noqa: BLE001 - a doctor reports, it does not crash
        status, problems = f"[red]unreachable[/]: {type(exc).__name__}: {exc}", problems + 1
    table.add_row("MLflow tracking", redact(store.tracking_uri),
                  src("tracking_uri", "default (./assay-runs)"), status)
    if args.study_storage:
        try:
            import optuna

            st = optuna.storages.RDBStorage(args.study_storage)
            status = f"[green]ok[/] ({len(st.get_all_studies())} studies)"
        except Exception as exc:  # noqa: BLE001
            status, problems = f"[red]unreachable[/]: {type(exc).__name__}: {exc}", problems + 1
        table.add_row("Optuna studies", redact(args.study_storage), src("study_storage", ""),
                      status)
    else:
        table.add_row("Optuna studies", str(store.root / "optuna") + "/<study>.journal",
                      "default", "[green]ok[/] (journal files, one per study)")
    mine = worker_info(tuple(args.plugin))
    expect = {k: v for k, v in mine["plugins"].items()}
    if not args.scheduler:
        n = args.workers if args.workers is not None else (os.cpu_count() or 1)
        table.add_row("Dask", f"local cluster: {n} single-threaded worker processes",
                      src("workers", "default (one per core)"),
                      "[green]ok[/] (started per command from this environment)")
        console.print(table)
        _print_plugins(mine)
        return 1 if problems else 0
    try:
        from distributed import Client

        client = Client(args.scheduler, timeout="10s")
    except Exception as exc:  # noqa: BLE001
        table.add_row("Dask scheduler", args.scheduler, src("scheduler", ""),
                      f"[red]unreachable[/]: {type(exc).__name__}: {exc}")
        console.print(table)
        return 1
    try:
        sched = client.scheduler_info()
        infos = client.run(worker_info, tuple(args.plugin))
    finally:
        client.close()
    table.add_row("Dask scheduler", args.scheduler, src("scheduler", ""),
                  f"[green]ok[/] ({len(sched['workers'])} workers)")
    console.print(table)
    wt = Table(title="workers (against this driver's plugins)")
    for col in ("worker", "host", "threads", "resources", "python", "torch", "GPUs", "plugins"):
        wt.add_column(col, overflow="fold", no_wrap=col == "worker")
    for addr, w in sorted(sched["workers"].items()):
        info = infos.get(addr, {})
        why = mismatches(info, expect)
        problems += bool(why)
        wt.add_row(addr, info.get("host", "?"), str(w.get("nthreads", "?")),
                   ", ".join(f"{k}={v:g}" for k, v in (w.get("resources") or {}).items()) or "-",
                   info.get("python", "?"), info.get("torch", "?"),
                   str(info.get("cuda_devices", 0)),
                   "[green]match[/]" if not why else "[red]" + _short(why) + "[/]")
    console.print(wt)
    _print_plugins(mine)
    if problems:
        console.print(f"[red]{problems} problem(s)[/]: runs are not sent to mismatched workers")
    return 1 if problems else 0


def _short(why: list[str]) -> str:
    """Mismatch lines, with the missing plugins on one line."""
    import re

    missing = [m.group(1) for w in why if (m := re.fullmatch(r"plugin '(.+)' is not installed", w))]
    rest = [w for w in why if not re.fullmatch(r"plugin '(.+)' is not installed", w)]
    head = [f"missing {len(missing)} plugin(s): {', '.join(missing)}"] if missing else []
    return "; ".join(head + rest)


def _print_plugins(info: dict) -> None:  # noqa: ANN001
    names = ", ".join(f"{k} {v}" for k, v in sorted(info["plugins"].items()))
    console.print(f"driver: python {info['python']}, torch {info.get('torch', '?')}, "
                  f"assay {info['assay']}; plugins: {names}", soft_wrap=True)
