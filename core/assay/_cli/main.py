"""The ``assay`` command. Heavy imports (torch, MLflow, Dask, Optuna) stay inside commands so
``assay --help`` answers at once."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from assay._drive import gcpause
from assay.errors import UserError

WORKERS_PER_CORE = 4        # local workers beyond this many per core only thrash (--force)

DESCRIPTION = """Run ML research methods as plugins: one run, Optuna sweeps on Dask, \
hyperparameter-law studies, paper claims; everything recorded in MLflow (./assay-runs/)."""


def _common(p: argparse.ArgumentParser, exp: bool = True) -> None:
    if exp:
        p.add_argument("experiment", help="experiment YAML file")
        p.add_argument("-o", "--override", action="append", default=[], metavar="PATH=VALUE",
                       help="set a field by dotted path, e.g. -o methods.optimizer.lr=3e-4")
    p.add_argument("--plugin", action="append", default=[], metavar="FILE.py|MODULE",
                   help="load an extra plugin (repeatable)")
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or ./assay-runs)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="assay", description=DESCRIPTION)
    ap.add_argument("--version", action="store_true", help="print the version and exit")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("plugins", help="installed plugins, their components, papers, claims")
    _common(p, exp=False)

    p = sub.add_parser("run", help="one run of an experiment, recorded in MLflow")
    _common(p)
    p.add_argument("--rerun", action="store_true",
                   help="train even when a finished run with the same key exists")

    p = sub.add_parser("sweep", help="Optuna sweep over the experiment's sweep: block, on Dask")
    _common(p)
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: one per core; 0: inline)")
    p.add_argument("--force", action="store_true",
                   help=f"allow --workers above {WORKERS_PER_CORE}x the cores")
    p.add_argument("--scheduler", default=None, help="join a Dask scheduler, tcp://HOST:PORT")
    p.add_argument("--trials", type=int, default=None, help="override sweep.trials")
    p.add_argument("--timeout", type=float, default=None, help="stop asking after N seconds")
    p.add_argument("--resume", action="store_true",
                   help="continue the study (re-running the same command does too)")
    p.add_argument("--study", default=None, help="study name (default: the experiment name)")
    p.add_argument("--study-storage", default=None,
                   help="Optuna storage URL, e.g. postgresql://USER@HOST/DB (default: "
                        "ASSAY_STUDY_STORAGE, assay.toml, or a journal file beside the store)")

    p = sub.add_parser("law", help="hyperparameter-law study over the experiment's law: block")
    _common(p)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--force", action="store_true",
                   help=f"allow --workers above {WORKERS_PER_CORE}x the cores")
    p.add_argument("--scheduler", default=None)
    p.add_argument("--study-storage", default=None, help="Optuna storage URL (as for sweep)")

    p = sub.add_parser("doctor", help="what assay will connect to, and whether workers match")
    p.add_argument("--scheduler", default=None, help="Dask scheduler to inspect, tcp://HOST:PORT")
    p.add_argument("--study-storage", default=None)
    p.add_argument("--workers", type=int, default=None)
    _common(p, exp=False)

    p = sub.add_parser("verify", help="run paper claims and print verdicts")
    p.add_argument("plugins_or_claims", nargs="*", metavar="PLUGIN|CLAIM")
    p.add_argument("--all", action="store_true", help="every installed claim")
    p.add_argument("--budget", choices=["smoke", "full"], default="full")
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--force", action="store_true",
                   help=f"allow --workers above {WORKERS_PER_CORE}x the cores")
    p.add_argument("--write-claims", action="store_true", help="regenerate CLAIMS.md")
    p.add_argument("--stale", action="store_true", help="list CLAIMS.md rows whose plugin or "
                   "the core's run path changed since their commit")
    _common(p, exp=False)

    p = sub.add_parser("schema", help="write JSON Schemas of the experiment file and components")
    p.add_argument("--out", default="schemas", help="output folder (default: schemas/)")

    p = sub.add_parser("ui", help="MLflow UI on the local store, bound to 127.0.0.1; with a "
                       "name, the direct URL of that experiment's runs table or study's run")
    p.add_argument("target", nargs="?", default=None, metavar="EXPERIMENT|STUDY",
                   help="print (and serve) the URL of this experiment's runs table, or of "
                        "this sweep or law study's parent run")
    p.add_argument("--open", action="store_true", help="open the URL in a browser")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--tracking-uri", default=None)

    p = sub.add_parser("show", help="a sweep's or law's study in the terminal: best trials, "
                       "parameter importances, law fits, design diagnostics")
    p.add_argument("study", metavar="STUDY", help="the study name (a sweep's --study, default "
                   "its experiment's name; a law's experiment name)")
    p.add_argument("--top", type=int, default=5, help="best trials shown (default 5)")
    p.add_argument("--study-storage", default=None,
                   help="Optuna storage URL of a study kept in a database")
    p.add_argument("--tracking-uri", default=None)

    p = sub.add_parser("new", help="scaffold a plugin: assay new plugin NAME")
    p.add_argument("what", choices=["plugin"])
    p.add_argument("name")
    p.add_argument("--dir", default="plugins")

    p = sub.add_parser("demo", help="the main job on the embedded defaults")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--force", action="store_true",
                   help=f"allow --workers above {WORKERS_PER_CORE}x the cores")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """The ``assay`` command. Called without ``argv`` (the console script) it owns the
    process, and manages the garbage collector for start-up and exit (``assay._drive.gcpause``);
    with ``argv`` (tests, notebooks) it leaves the collector alone."""
    if argv is not None:
        return _main(argv, owner=False)
    try:
        return _main(argv, owner=True)
    finally:
        gcpause.at_exit()


def _main(argv: Sequence[str] | None, owner: bool) -> int:
    args = parser().parse_args(argv)
    if args.version:
        from assay._version import __version__
        print(f"assay {__version__}")
        return 0
    if not args.command:
        parser().print_help()
        return 0
    if owner and args.command in ("sweep", "law"):   # the driver resumes it at its loop
        gcpause.pause()
    try:
        from assay._cli import preflight
        from assay._experiment import settings

        s = settings.apply(args)
        if args.command == "run":           # a finished run: answered without the plugins
            from assay._drive.known_run import lookup

            found = lookup(args)
            if found is not None:
                from assay._cli.commands import known_run

                return known_run(found)
        preflight.check(args, s)                        # bad input: refused before any work
        return int(_command(args.command)(args) or 0)
    except UserError as exc:
        _err(str(exc))
        return exc.exit_code
    except KeyboardInterrupt as exc:      # SIGTERM too, once a driver has stopped cleanly
        _err(str(exc) or "interrupted")
        return int(getattr(exc, "exit_code", 130))


def _command(name: str) -> Callable[[argparse.Namespace], int | None]:
    """The command's function. ``assay plugins`` prints without rich (assay._cli.listing):
    importing rich would take longer than answering from the plugin cache."""
    if name == "plugins":
        from assay._cli.listing import cmd_plugins

        return cmd_plugins
    from assay._cli import commands

    return getattr(commands, f"cmd_{name}")


def _err(msg: str) -> None:
    try:
        from rich.console import Console
        from rich.text import Text

        Console(stderr=True).print(Text("error: ", style="bold red") + Text(msg), soft_wrap=True)
    except ImportError:  # pragma: no cover
        print(f"error: {msg}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

