"""``LawStudy``: the design run through the sweep driver (Dask, MLflow children of the law's
parent run, pruning, resume, run-key reuse), the holdouts searched independently and scored,
and the CLI entry point."""
from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from assay._drive.law.design import (
    Design,
    Fitted,
    PointResult,
    Rows,
    SearchRound,
    _label,
    _short,
    mark_coincident,
    predict,
)
from assay._drive.law.spec import (
    LawSpec,
    _points,
    check_law,
    parse_law,
)
from assay._drive.lawfit import LawFit
from assay._drive.run import Loaded, load
from assay._experiment.space import Dist, SweepSpec, parse_sweep
from assay._record.tracking import Store, Tracker
from assay.errors import UserError

console = Console(highlight=False)


@dataclass
class LawResult:
    parent_run_id: str
    points: list[PointResult]
    fits: dict[str, LawFit]
    predictions: list[dict[str, Any]]
    holdout: list[dict[str, Any]]
    out_dir: Path
    wall_s: float
    refused: str = ""
    left_out: dict[str, list[str]] = field(default_factory=dict)


class LawStudy:
    def __init__(self, loaded: Loaded, law: LawSpec, sweep: SweepSpec, *, store: Store,
                 workers: int | None = None, scheduler: str | None = None,
                 name: str | None = None, progress: bool = True, executor: Any = None,
                 study_storage: str | None = None) -> None:
        self.loaded, self.law, self.sweep, self.store = loaded, law, sweep, store
        self.study_storage = study_storage
        self.shared_executor = executor
        self.name = name or loaded.experiment.name
        self.progress = progress
        self.design = Design(law, sweep, self._search, name=self.name, say=self._say)
        self.out_dir = store.root / "laws" / self.name
        self.workers, self.scheduler = workers, scheduler
        self.executor: Any = None

    def _executor(self) -> Any:
        from assay._dispatch.executor import make_executor

        if self.shared_executor is not None:
            return self.shared_executor
        return make_executor(self.workers, self.scheduler, self.store.root, kind="law",
                             warm=(self.loaded.registry.sources, self.loaded.run.model_dump_json()))

    def _overrides(self, scale: Mapping[str, float], seed: int) -> dict[str, Any]:
        return {**self.loaded.overrides, **{k: _cast(v) for k, v in scale.items()},
                "train.seed": seed}

    def _search(self, r: SearchRound) -> Rows:
        """One round of one point's search: the sweep driver on the study ``r.study`` (a new
        driver per round continues the same Optuna study with the round's range and seed)."""
        from assay._drive.sweep import Driver

        loaded = load(self.loaded.raw, self._overrides(r.scale, r.seed),
                      plugins=self.loaded.registry.sources)
        sweep = self.sweep.model_copy(update={"space": r.space, "trials": r.trials,
                                              "seed": r.sampler_seed})
        driver = Driver(loaded, sweep, store=self.store, study_name=r.study,
                        experiment=self.loaded.experiment.name, progress=False, plots=False,
                        executor=self.executor, study_storage=self.study_storage,
                        extra_tags={"mlflow.parentRunId": self.parent,
                                    "assay.law": self.name,
                                    "assay.scale": json.dumps(r.scale)})
        result = driver.run()
        if result.all_failed:                     # nothing to fit: say why, not just "none"
            raise UserError(f"every trial failed at {r.kind} point {_label(r.scale)} (seed "
                            f"{r.seed}); the commonest reasons: {result.failure_summary()}")
        return [(dict(t.params), float(t.values[0])) for t in driver.study.trials
                if t.state.name == "COMPLETE"]

    def _fit_point(self, scale: dict[str, float], seed: int, fitted: Fitted) -> PointResult:
        space = dict(self.sweep.space)
        if self.law.warm_start and fitted.fits:
            guess = {p: fitted.fits[p].predict(list(scale.values())) for p in self.law.tune}
            space = {k: _narrow(d, guess.get(k)) for k, d in space.items()}
        p = self.design.search_point("fit", scale, seed, space)
        self._say_point(p)
        return p

    def run(self) -> LawResult:
        started = time.perf_counter()
        tracker = Tracker(self.store)
        self.parent = _parent(tracker, self)
        self.executor = self._executor()
        grid = [(s, seed) for s in _points(self.law) for seed in self.law.seeds]
        predictions: list[dict[str, Any]] = []
        holdout: list[dict[str, Any]] = []
        try:
            points: list[PointResult] = []
            fitted = Fitted({})
            for i, (scale, seed) in enumerate(grid):
                self._say(f"[{i + 1}/{len(grid)}] scale point {_label(scale)}, seed {seed}")
                points.append(self._fit_point(scale, seed, fitted))
                if self.law.warm_start:
                    fitted = self.design.fit(points)
            fitted = self.design.fit(points)
            if fitted.fits:
                predictions = predict(self.law, fitted)
                self.out_dir.mkdir(parents=True, exist_ok=True)
                ledger = self.out_dir / "predictions.json"
                ledger.write_text(json.dumps(predictions, indent=2))   # written before running
                tracker.client.log_artifact(self.parent, str(ledger), "law")
                holdout = [self._score(h, pred) for h, pred in zip(self.law.holdout, predictions)]
            else:
                self._say(f"[bold red]law refused[/]: {fitted.refused}")
        finally:
            if self.shared_executor is None:
                self.executor.close()
        mark_coincident(points + [h["point"] for h in holdout], self.law.tune, self.sweep.space)
        result = LawResult(self.parent, points, fitted.fits, predictions, holdout, self.out_dir,
                           time.perf_counter() - started, fitted.refused, fitted.left_out)
        from assay._drive.law_report import write_outputs

        write_outputs(result, self, tracker)
        tracker.client.set_terminated(self.parent, "FINISHED" if fitted.fits else "FAILED")
        return result

    def _score(self, point: dict[str, float], pred: dict[str, Any]) -> dict[str, Any]:
        from assay._drive.run import run_once

        self._say(f"holdout {_label(point)}: predicted " + ", ".join(
            f"{_short(k)}={v['value']:.3g} [{v['interval'][0]:.3g}, {v['interval'][1]:.3g}]"
            for k, v in pred["predicted"].items()))
        seed = self.law.seeds[0]
        measured = self.design.search_point("holdout", point, seed)
        self._say_point(measured)
        overrides = {**self._overrides(point, seed),
                     **{hp: _cast_like(self.sweep.space[hp], v["value"])
                        for hp, v in pred["predicted"].items()}}
        loaded = load(self.loaded.raw, overrides, plugins=self.loaded.registry.sources)
        _, res, reused = run_once(loaded, self.store, progress=False, parent=self.parent,
                                  experiment=self.loaded.experiment.name)
        metric = self.loaded.experiment.objective.metrics[0]
        loss_at_pred = (res if reused else res.metrics).get(metric, math.nan)
        return score(point, pred, measured, loss_at_pred)

    def _say_point(self, p: PointResult) -> None:
        parts = []
        for hp, o in p.optima.items():
            state = f"censored ({o.censored})" if o.censored else "bracketed"
            parts.append(f"{_short(hp)}* {o.value:.3g} [{o.low:.3g}, {o.high:.3g}] {state}")
        self._say(f"    {len(p.trials)} trials in {p.rounds} round(s): " + "; ".join(parts))

    def _say(self, msg: str) -> None:
        if self.progress:
            console.print(msg)


def score(point: dict[str, float], pred: dict[str, Any], measured: PointResult,
          loss_at_pred: float) -> dict[str, Any]:
    """A holdout's prediction against its own independent search."""
    opt = measured.optima
    return {"scale": point,
            "predicted": {k: v["value"] for k, v in pred["predicted"].items()},
            "interval": {k: list(v["interval"]) for k, v in pred["predicted"].items()},
            "measured": {k: o.value for k, o in opt.items()},
            "measured_interval": {k: [o.low, o.high] for k, o in opt.items()},
            "censored": {k: o.censored for k, o in opt.items()},
            "error_octaves": {k: math.log2(pred["predicted"][k]["value"] / o.value)
                              for k, o in opt.items()},
            "loss_at_prediction": loss_at_pred, "best_loss": measured.best_loss,
            "loss_ratio": loss_at_pred / measured.best_loss, "point": measured}


def _parent(tracker: Tracker, study: LawStudy) -> str:
    client = tracker.client
    exp_id = tracker.experiment_id(study.loaded.experiment.name)
    found = client.search_runs([exp_id], f"tags.`assay.law` = '{study.name}' and "
                               "tags.`assay.kind` = 'law'", max_results=1)
    if found:
        client.update_run(found[0].info.run_id, status="RUNNING")
        return found[0].info.run_id
    law, sweep = study.law, study.sweep
    params = {"law.scale": json.dumps(law.scale), "law.tune": ",".join(law.tune),
              "law.trials": str(law.first_trials(sweep)),
              "law.max_trials": str(law.max_trials(sweep)),
              "law.window": str(law.window), "law.widen.octaves": str(law.widen.octaves),
              "law.seeds": json.dumps(law.seeds), "law.holdout": json.dumps(law.holdout),
              "law.study_seed": str(sweep.seed)}
    return tracker.start_run(study.loaded.experiment.name, f"law-{study.name}",
                             {"assay.kind": "law", "assay.law": study.name}, params)


def _cast(v: float) -> Any:
    return int(v) if float(v).is_integer() else v


def _cast_like(d: Dist, v: float) -> Any:
    if d.kind in ("int", "log_int"):
        return round(v)
    if d.kind == "choice":                     # nearest allowed value, in log space when numeric
        vals = [c for c in d.choice or [] if isinstance(c, (int, float))]
        return min(vals, key=lambda c: abs(math.log(c) - math.log(v)) if c > 0 else abs(c - v))
    return v


def _narrow(d: Dist, centre: float | None, octaves: float = 2.0) -> Dist:
    """Warm start: search +-2 octaves around the law's guess, inside the original range."""
    if centre is None or d.kind not in ("log_uniform", "uniform"):
        return d
    lo, hi = getattr(d, d.kind)
    new = (max(lo, centre / 2 ** octaves), min(hi, centre * 2 ** octaves))
    return d if new[0] >= new[1] else Dist(**{d.kind: new})


def run_law(loaded: Loaded, **kwargs: Any) -> LawResult:
    law = parse_law(loaded.experiment.law)
    sweep = parse_sweep(loaded.experiment.sweep)
    return LawStudy(loaded, law, sweep, **kwargs).run()


def run_law_cli(args: Any) -> int:
    from assay._dispatch.executor import make_executor
    from assay._drive.law_report import print_law

    store = Store.resolve(args.tracking_uri)
    executor = make_executor(args.workers, args.scheduler, store.root, kind="law", warm=None)
    try:
        loaded = load(args.experiment, args.override, args.plugin)
        law = parse_law(loaded.experiment.law)            # refused here, before any run
        sweep = parse_sweep(loaded.experiment.sweep)
        check_law(law, sweep)
        if executor is not None:
            executor.set_warm(loaded.registry.sources, loaded.run.model_dump_json())
        result = LawStudy(loaded, law, sweep, store=store, workers=args.workers,
                          scheduler=args.scheduler, study_storage=args.study_storage,
                          executor=executor).run()
    finally:
        if executor is not None:
            executor.close()
    print_law(result, loaded, store)
    return 0 if result.fits else 1
