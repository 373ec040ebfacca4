"""Python entry points behind the CLI: load an experiment, run it once, record it."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay._drive.shutdown import StopSignals
from assay._experiment.resolve import ExperimentSpec, RunSpec, build_run, load_yaml, parse_override
from assay._plugins.light import LightRegistry, validation_registry
from assay._plugins.registry import Registry, absolute_source, registry
from assay.errors import UserError


@dataclass
class Loaded:
    raw: dict[str, Any]
    overrides: dict[str, Any]
    registry: Registry | LightRegistry
    experiment: ExperimentSpec
    run: RunSpec


def load(path: str | Path | Mapping[str, Any], overrides: Sequence[str] | Mapping[str, Any] = (),
         plugins: Sequence[str] = (), *, light: bool = False) -> Loaded:
    """Read an experiment (file or dict), load the plugins it needs, validate everything.

    ``light``: validate from the plugin cache without importing the plugins where it can
    (``assay._plugins.light``; the same RunSpec). Its ``Loaded`` is for reading, not running:
    running needs the full registry (``light=False``, the default)."""
    raw = dict(path) if isinstance(path, Mapping) else load_yaml(path)
    base = Path(path).parent if not isinstance(path, Mapping) else Path(".")
    ovr = dict(overrides) if isinstance(overrides, Mapping) else \
        dict(parse_override(o) for o in overrides)
    listed = raw.get("plugins") or []
    if not isinstance(listed, list):
        raise UserError("plugins: expected a list of plugin files or modules")
    # plugin files are found relative to the experiment file, and sent to workers as absolute
    sources = [_abs(p, Path(".")) for p in plugins] + [_abs(p, base) for p in listed]
    extra = tuple(dict.fromkeys(sources))
    reg = validation_registry(extra) if light else registry(extra)
    raw.pop("plugins", None)
    exp, run = build_run(raw, reg, ovr)
    return Loaded(raw, ovr, reg, exp, run)


_abs = absolute_source


def run_once(loaded: Loaded, store: Any = None, *, rerun: bool = False,
             progress: bool = True, parent: str | None = None,
             experiment: str | None = None) -> tuple[str, Any, bool]:
    """Run ``loaded.run`` (or reuse a finished run with the same key): (run_id, result, reused)."""
    from assay._record.tracking import Store, Tracker, run_tags
    from assay._run.loop import execute

    store = store or Store.resolve()
    tracker = Tracker(store)
    run = loaded.run
    if not rerun:
        done = tracker.finished_keys([run.key])
        if run.key in done:
            return done[run.key]["run_id"], done[run.key]["metrics"], True
    ensure_pretrained(run, tracker, loaded.registry, store, progress)
    tags = run_tags(run, loaded.registry, {"mlflow.parentRunId": parent} if parent else {})
    run_id = tracker.start_run(loaded.experiment.name if experiment is None else experiment,
                               _run_name(run), tags, run.flat_params())
    try:                                # SIGTERM raises here as Ctrl-C does
        with StopSignals(raise_now=True), _progress(run, progress) as report:
            result = execute(run, report, init_state=_load_state(run, store))
    except BaseException as exc:        # the run is marked preempted (KILLED), not left RUNNING
        from assay._run.result import RunResult

        why = str(exc) or type(exc).__name__
        tracker.record(run_id, RunResult(run.key, "preempted", error=f"interrupted: {why}"))
        raise
    tracker.record(run_id, result)
    return run_id, result, False


def ensure_pretrained(run: RunSpec, tracker: Any, registry_: Registry, store: Any,
                      progress: bool = False) -> None:
    """Make sure the weights ``run`` starts from exist (train and record them once)."""
    import torch

    from assay._record.tracking import run_tags
    from assay._run.loop import execute

    pre = run.pretrain
    if pre is None:
        return
    ensure_pretrained(pre, tracker, registry_, store, progress)
    path = store.root / "states" / f"{pre.key}.pt"
    if path.exists():
        return
    with _progress(pre, progress) as report:
        result = execute(pre, report, init_state=_load_state(pre, store), keep_state=True)
    if result.status != "finished":
        raise UserError(f"pretraining run {pre.key} {result.status}: {result.error}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(result.state_dict, tmp)
    tmp.replace(path)                               # atomic: never a half-written file
    run_id = tracker.start_run(run.experiment, f"pretrain-{pre.key[:6]}",
                               run_tags(pre, registry_, {"assay.kind": "pretrain"}),
                               pre.flat_params())
    tracker.record(run_id, result)


def _load_state(run: RunSpec, store: Any) -> Any:
    if run.pretrain is None:
        return None
    import torch

    return torch.load(store.root / "states" / f"{run.pretrain.key}.pt", weights_only=True)


def _run_name(run: RunSpec) -> str:
    opt = run.methods.get("optimizer", {}).get("name", "adamw")
    return f"{run.model['name']}-{opt}-s{run.seed}-{run.key[:6]}"


class _progress:
    """A rich progress bar fed by the run's evaluations."""

    def __init__(self, run: RunSpec, show: bool) -> None:
        self.run, self.show = run, show

    def __enter__(self) -> Any:
        if not self.show:
            return lambda step, metrics: False
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                            TextColumn("{task.completed}/{task.total} steps"),
                            TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                            transient=True)
        self.bar.start()
        task = self.bar.add_task("training", total=self.run.train.steps, info="")

        def report(step: int, metrics: Mapping[str, float]) -> bool:
            self.bar.update(task, completed=step, info=f"val/loss {metrics.get('val/loss', 0):.4f}")
            return False

        return report

    def __exit__(self, *exc: Any) -> None:
        if self.show:
            self.bar.stop()
