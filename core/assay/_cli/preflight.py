"""Every check that can refuse a command's input, run before the command does any work.

A sweep left running overnight must either do what was asked or refuse at once, so this runs
before a cluster starts, a store is opened or a file is written: flags (ranges and sane upper
bounds), names used as file names, connection URLs (well-formed, drivers installed, servers
answering), plugin files and modules, the experiment file with its overrides, its components,
and its sweep and law blocks against the resolved experiment. Each refusal is one UserError
naming the flag or field, the bad value and the fix; the CLI prints it and exits 2.

Cheap checks come first; the last step validates the experiment's components, from the
plugin cache without importing the plugins or torch where it can (``assay._plugins.light``).
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
from collections.abc import Sequence
from pathlib import Path

from assay._cli.main import WORKERS_PER_CORE
from assay._experiment import settings
from assay._experiment.settings import Settings
from assay.errors import UserError, did_you_mean

TYPE_CHECKING = False           # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

MAX_SEEDS = 1000


def check(args: argparse.Namespace, s: Settings) -> None:
    """Refuse bad input for ``args.command``; return silently when all of it is good."""
    _counts(args, s)
    if getattr(args, "study", None) is not None:
        _name("--study", args.study)
    _connections(args, s)
    sources = [("--plugin", p) for p in getattr(args, "plugin", [])]
    sources += [("ASSAY_PLUGINS", p.strip())
                for p in os.environ.get("ASSAY_PLUGINS", "").split(",") if p.strip()]
    for label, source in sources:
        _source(label, source, Path("."))
    if args.command in ("run", "sweep", "law"):
        _experiment(args, sources)
    elif sources and args.command not in ("plugins", "doctor"):   # those two report breakage
        from assay._drive.run import _abs
        from assay._plugins.registry import registry

        _refuse_broken(registry(tuple(_abs(p, Path(".")) for p in args.plugin)), sources)


# --- flags ------------------------------------------------------------------------------------

def _said(s: Settings, key: str, value: Any) -> str:
    """How the user gave ``key``: '--workers 9', 'ASSAY_WORKERS=9' or 'workers = 9 in FILE'."""
    src = s.source.get(key, "--" + key.replace("_", "-"))
    if src.startswith("--"):
        return f"{src} {value}"
    if src.isupper():
        return f"{src}={value}"
    return f"{key} = {value!r} in {src}"


def _counts(args: argparse.Namespace, s: Settings) -> None:
    trials = getattr(args, "trials", None)
    timeout = getattr(args, "timeout", None)
    if trials is not None or timeout is not None:
        _sweep_counts(trials, timeout)
    workers = getattr(args, "workers", None)
    if workers is not None:
        _workers(_said(s, "workers", workers), workers, getattr(args, "force", False))
    seeds = getattr(args, "seeds", None)
    if seeds is not None and not 1 <= seeds <= MAX_SEEDS:
        raise UserError(f"--seeds {seeds}: give a number of seeds from 1 to {MAX_SEEDS}")
    port = getattr(args, "port", None)
    if port is not None and not 1 <= port <= 65535:
        raise UserError(f"--port {port}: give a port from 1 to 65535 (e.g. 5000)")


def _sweep_counts(trials: int | None, timeout: float | None) -> None:
    from assay._experiment.space import MAX_TIMEOUT_S, MAX_TRIALS  # only a sweep pays for it

    if trials is not None and not 1 <= trials <= MAX_TRIALS:
        raise UserError(f"--trials {trials}: give a number of trials from 1 to {MAX_TRIALS} "
                        "(or leave it out to use the file's sweep.trials)")
    if timeout is not None and not (math.isfinite(timeout) and 0 < timeout <= MAX_TIMEOUT_S):
        raise UserError(f"--timeout {timeout:g}: give seconds above 0 and at most "
                        f"{MAX_TIMEOUT_S} (a year), or leave it out for no time limit")


def _workers(said: str, n: int, force: bool) -> None:
    cores = os.cpu_count() or 1
    most = WORKERS_PER_CORE * cores
    if n < 0:
        raise UserError(f"{said}: give 0 (run inline, in this process) or a number of worker "
                        f"processes from 1 to {most}")
    if n > most and not force:
        raise UserError(f"{said}: more than {WORKERS_PER_CORE}x this machine's {cores} cores "
                        f"({most}); each worker is a process of its own. Give at most {most}, "
                        "or add --force to start them anyway")


def _name(said: str, name: str) -> None:
    from assay.spec import name_problem  # pydantic models: only when a name is given

    problem = name_problem(name)
    if problem:
        raise UserError(f"{said} {name!r}: {problem}")


def _connections(args: argparse.Namespace, s: Settings) -> None:
    """Well-formed URLs with installed drivers; and, for commands that will use them, a
    server that answers (doctor reports unreachable servers itself)."""
    probe = args.command not in ("doctor", "ui", "plugins")
    checks = [("tracking_uri", settings.tracking_uri_problem),
              ("study_storage", settings.study_storage_problem),
              ("scheduler", settings.scheduler_problem)]
    for key, problem_of in checks:
        value = getattr(args, key, None)
        if value is None:
            continue
        problem = problem_of(value) or (settings.unreachable(value) if probe else None)
        if problem:
            raise UserError(f"{_said(s, key, settings.redact(value))}: {problem}")


# --- plugins ----------------------------------------------------------------------------------

def _source(label: str, source: str, base: Path) -> None:
    """A plugin named by the user must exist: a .py file, or a module that is installed.
    (It is code: it runs in the driver and in every worker.)"""
    path = Path(source) if Path(source).is_absolute() or Path(source).exists() \
        else base / source
    if source.endswith(".py") or path.exists():
        if not path.exists():
            near = did_you_mean(path.name, [p.name for p in _py_files(path.parent)])
            raise UserError(f"{label} {source}: no such file.{near} Give an existing .py file "
                            "or the name of an installed plugin module")
        if not path.is_file() or path.suffix != ".py":
            raise UserError(f"{label} {source}: not a .py file; give a plugin's .py file or "
                            "the name of an installed plugin module")
        return
    try:
        found = importlib.util.find_spec(source) is not None
    except Exception:  # noqa: BLE001 - a bad dotted name or a package that fails to import
        found = False
    if not found:
        raise UserError(f"{label} {source!r}: no installed module and no .py file has that "
                        "name; give a plugin's .py file or install the plugin (pip install -e "
                        "plugins/<slug>)")


def _py_files(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.suffix == ".py"]
    except OSError:
        return []


def _refuse_broken(reg: Any, sources: Sequence[tuple[str, str]]) -> None:
    """A plugin the user named that failed to load is an error: the run would silently go
    on without it. (Installed plugins that fail are still only reported: ``assay plugins``.)"""
    for label, source in sources:
        name = Path(source).stem if source.endswith(".py") else source
        if name in reg.broken:
            raise UserError(f"{label} {source}: the plugin failed to load: {reg.broken[name]}. "
                            "Fix it, or leave it out")


# --- the experiment ---------------------------------------------------------------------------

def _experiment(args: argparse.Namespace, sources: list[tuple[str, str]]) -> None:
    from assay._experiment.resolve import (
        apply_overrides,
        load_yaml,
        parse_experiment,
        parse_override,
    )

    raw = load_yaml(args.experiment)
    overrides = dict(parse_override(o) for o in args.override)
    exp = parse_experiment(apply_overrides(raw, overrides))        # fields, names, numbers
    sweep = law = None
    if exp.sweep is not None or exp.law is not None or args.command in ("sweep", "law"):
        sweep = _sweep(exp, args.command)           # a law searches with the sweep block
    if exp.law is not None or args.command == "law":
        law = _law(exp, sweep)
    base = Path(args.experiment).parent
    listed = [(f"plugins: (in {args.experiment})", p) for p in exp.plugins]
    for label, source in listed:
        _source(label, source, base)
    _resolved(args, sweep, law, sources, listed)


def _sweep(exp: Any, command: str) -> Any:
    from assay._experiment.space import parse_sweep

    sweep = parse_sweep(exp.sweep)
    if command == "sweep" and not sweep.space:
        raise UserError("sweep.space is empty: name at least one dotted path to search, e.g. "
                        "methods.optimizer.lr: {log_uniform: [1.0e-4, 1.0e-2]}")
    return sweep


def _law(exp: Any, sweep: Any) -> Any:
    from assay._drive.law import check_law, parse_law

    law = parse_law(exp.law)
    for p in law.tune:
        if p not in sweep.space:
            raise UserError(f"law.tune: {p!r} needs a range in sweep.space to be tuned."
                            f"{did_you_mean(p, sweep.space)} In sweep.space: "
                            f"{', '.join(sweep.space) or '(nothing)'}")
    check_law(law, sweep)                              # what the law and sweep agree on
    return law


def _resolved(args: argparse.Namespace, sweep: Any, law: Any,
              sources: list[tuple[str, str]], listed: list[tuple[str, str]]) -> None:
    """With the plugins loaded: components and their configs, then every sweep and law path
    against the resolved experiment."""
    from assay._drive.run import _abs, load
    from assay._experiment.resolve import build_run
    from assay._experiment.space import check_paths, field_paths, probes

    loaded = load(args.experiment, args.override, args.plugin, light=True)  # torch-free
    base = Path(args.experiment).parent
    _refuse_broken(loaded.registry, [*sources, *((lab, _abs(p, base)) for lab, p in listed)])

    def build(extra: dict[str, Any]) -> Any:
        return build_run(loaded.raw, loaded.registry, {**loaded.overrides, **extra})

    fields = field_paths(loaded.run)
    if sweep is not None:
        check_paths(probes(sweep), build, fields, "sweep.space")
    if law is not None:
        check_paths({p: [_whole(v) for v in vals] for p, vals in law.scale.items()}, build,
                    fields, "law.scale")
        for point in law.holdout:
            try:
                build({k: _whole(v) for k, v in point.items()})
            except UserError as exc:
                raise UserError(f"law.holdout: the point {point} is refused ({exc}); change "
                                "it") from None


def _whole(v: float) -> Any:
    """A scale value as the law applies it: 64.0 is the integer 64."""
    return int(v) if float(v).is_integer() else v
