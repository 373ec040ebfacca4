"""``assay law``: hyperparameter-law studies.

One Optuna search per scale point (and seed) through the sweep machinery (Dask, MLflow
children of the law's parent run, pruning, resume, run-key reuse); a robust optimum per point
(:mod:`assay._drive.lawfit`); a power law per tuned hyperparameter with bootstrap intervals and R^2;
predictions for the holdout points written down (a ledger file and MLflow artifact) *before*
they run; then the holdout points are swept and scored: error in octaves of the
hyperparameter, and the loss of one run at the predicted setting against the best loss found.
"""
from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from rich.console import Console

from assay._drive.run import Loaded, load
from assay.errors import UserError
from assay._drive.lawfit import LawFit, Optimum, estimate_optimum, fit_law
from assay._experiment.space import Dist, SweepSpec, parse_sweep
from assay._record.tracking import Store, Tracker

console = Console(highlight=False)


class LawSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    scale: dict[str, list[float]] = Field(..., description="dotted path -> scale values")
    tune: list[str] = Field(..., min_length=1, description="hyperparameters whose optimum is fitted")
    trials: int | None = Field(None, ge=3, description="trials per scale point (default sweep.trials)")
    seeds: list[int] = Field(default_factory=lambda: [0], description="replicates per point")
    holdout: list[dict[str, float]] = Field(default_factory=list, description="points to predict")
    warm_start: bool = Field(False, description="centre later points' search on the law so far")
    n_boot: int = Field(200, ge=20, description="bootstrap resamples")

    @model_validator(mode="after")
    def _check(self) -> LawSpec:
        if not self.scale or any(len(v) < 1 for v in self.scale.values()):
            raise ValueError("scale needs at least one axis with values")
        for h in self.holdout:
            if set(h) != set(self.scale):
                raise ValueError(f"holdout point {h} must give every scale axis {list(self.scale)}")
        return self


@dataclass
class PointResult:
    scale: dict[str, float]
    optima: dict[str, Optimum]
    best_loss: float
    trials: list[tuple[dict[str, Any], float]] = field(default_factory=list)


@dataclass
class LawResult:
    parent_run_id: str
    points: list[PointResult]
    fits: dict[str, LawFit]
    predictions: list[dict[str, Any]]
    holdout: list[dict[str, Any]]
    out_dir: Path
    wall_s: float


def parse_law(raw: dict[str, Any] | None) -> LawSpec:
    if raw is None:
        raise UserError("this experiment has no law: block")
    try:
        return LawSpec.model_validate(raw)
    except ValidationError as exc:
        from assay._experiment.resolve import _format_pydantic

        raise UserError(_format_pydantic(exc, "law")) from None


def _points(spec: LawSpec) -> list[dict[str, float]]:
    axes = list(spec.scale)
    return [dict(zip(axes, combo)) for combo in itertools.product(*spec.scale.values())]


def _label(point: dict[str, float]) -> str:
    return ",".join(f"{k.split('.')[-1]}={v:g}" for k, v in point.items())


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
        for p in law.tune:
            if p not in sweep.space:
                raise UserError(f"law.tune: {p!r} needs a range in sweep.space")
        self.out_dir = store.root / "laws" / self.name
        self.workers, self.scheduler = workers, scheduler

    def _executor(self) -> Any:
        from assay._dispatch.executor import make_executor

        if self.shared_executor is not None:
            return self.shared_executor
        return make_executor(self.workers, self.scheduler, self.store.root, kind="law",
                             warm=(self.loaded.registry.sources, self.loaded.run.model_dump_json()))

    def _sweep_point(self, point: dict[str, float], seed: int, kind: str, executor: Any,
                     space: dict[str, Dist]) -> Any:
        from assay._drive.sweep import Driver

        overrides = {**self.loaded.overrides, **{k: _cast(v) for k, v in point.items()},
                     "train.seed": seed}
        loaded = load(self.loaded.raw, overrides, plugins=self.loaded.registry.sources)
        sweep = self.sweep.model_copy(update={"space": space,
                                              "trials": self.law.trials or self.sweep.trials})
        study = f"{self.name}.{kind}.{_label(point)}.seed{seed}"
        driver = Driver(loaded, sweep, store=self.store, study_name=study,
                        experiment=self.loaded.experiment.name, progress=False, plots=False,
                        executor=executor, study_storage=self.study_storage,
                        extra_tags={"mlflow.parentRunId": self.parent,
                                                       "assay._drive.law": self.name,
                                                       "assay.scale": json.dumps(point)})
        return driver, driver.run()

    def _point(self, point: dict[str, float], kind: str, executor: Any,
               fits: dict[str, LawFit]) -> PointResult:
        space = dict(self.sweep.space)
        guess = None
        if self.law.warm_start and fits:
            guess = {p: fits[p].predict(list(point.values())) for p in self.law.tune}
            space = {k: _narrow(d, guess.get(k)) for k, d in space.items()}
        rows: list[tuple[dict[str, Any], float]] = []
        for seed in self.law.seeds:
            driver, _ = self._sweep_point(point, seed, kind, executor, space)
            for t in driver.study.trials:
                if t.state.name == "COMPLETE":
                    rows.append((dict(t.params), float(t.values[0])))
        if not rows:
            raise UserError(f"no trial finished at scale point {point}")
        optima = {p: estimate_optimum([r[0][p] for r in rows], [r[1] for r in rows],
                                      log=_is_log(self.sweep.space[p]), n_boot=self.law.n_boot)
                  for p in self.law.tune}
        return PointResult(point, optima, min(r[1] for r in rows), rows)

    def run(self) -> LawResult:
        started = time.perf_counter()
        tracker = Tracker(self.store)
        self.parent = _parent(tracker, self)
        executor = self._executor()
        axes = list(self.law.scale)
        try:
            points: list[PointResult] = []
            fits: dict[str, LawFit] = {}
            for i, point in enumerate(_points(self.law)):
                self._say(f"[{i + 1}/{len(_points(self.law))}] scale point {_label(point)}")
                points.append(self._point(point, "fit", executor, fits))
                if self.law.warm_start and len(points) >= 2:
                    fits = self._fit(points, axes)[0]
            fits, boots = self._fit(points, axes)
            predictions = self._predict(fits, boots)
            self.out_dir.mkdir(parents=True, exist_ok=True)
            ledger = self.out_dir / "predictions.json"
            ledger.write_text(json.dumps(predictions, indent=2))      # written before running
            tracker.client.log_artifact(self.parent, str(ledger), "law")
            holdout = [self._score(h, pred, executor)
                       for h, pred in zip(self.law.holdout, predictions)]
        finally:
            if self.shared_executor is None:
                executor.close()
        result = LawResult(self.parent, points, fits, predictions, holdout, self.out_dir,
                           time.perf_counter() - started)
        from assay._drive.law_report import write_outputs

        write_outputs(result, self, tracker)
        tracker.client.set_terminated(self.parent, "FINISHED")
        return result

    def _fit(self, points: list[PointResult], axes: list[str]) -> tuple[dict[str, LawFit],
                                                                          dict[str, Any]]:
        scales = [[p.scale[a] for a in axes] for p in points]
        fits, boots = {}, {}
        for hp in self.law.tune:
            fits[hp], boots[hp] = fit_law(axes, scales, [p.optima[hp] for p in points])
        return fits, boots

    def _predict(self, fits: dict[str, LawFit], boots: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for h in self.law.holdout:
            s = [h[a] for a in self.law.scale]
            out.append({"scale": h, "predicted": {
                hp: {"value": f.predict(s), "interval": f.predict_interval(s, boots[hp])}
                for hp, f in fits.items()}, "written_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
        return out

    def _score(self, point: dict[str, float], pred: dict[str, Any], executor: Any
               ) -> dict[str, Any]:
        from assay._drive.run import run_once

        self._say(f"holdout {_label(point)}: predicted " + ", ".join(
            f"{k.split('.')[-1]}={v['value']:.3g}" for k, v in pred["predicted"].items()))
        measured = self._point(point, "holdout", executor, {})
        overrides = {**self.loaded.overrides, **{k: _cast(v) for k, v in point.items()},
                     **{hp: _cast_like(self.sweep.space[hp], v["value"])
                        for hp, v in pred["predicted"].items()}}
        loaded = load(self.loaded.raw, overrides, plugins=self.loaded.registry.sources)
        _, res, reused = run_once(loaded, self.store, progress=False, parent=self.parent,
                                  experiment=self.loaded.experiment.name)
        metric = self.loaded.experiment.objective.metrics[0]
        loss_at_pred = (res if reused else res.metrics).get(metric, math.nan)
        return {"scale": point, "predicted": {k: v["value"] for k, v in pred["predicted"].items()},
                "measured": {k: o.value for k, o in measured.optima.items()},
                "error_octaves": {k: math.log2(pred["predicted"][k]["value"] / o.value)
                                  for k, o in measured.optima.items()},
                "loss_at_prediction": loss_at_pred, "best_loss": measured.best_loss,
                "loss_ratio": loss_at_pred / measured.best_loss, "point": measured}

    def _say(self, msg: str) -> None:
        if self.progress:
            console.print(msg)


def _parent(tracker: Tracker, study: LawStudy) -> str:
    client = tracker.client
    exp_id = tracker.experiment_id(study.loaded.experiment.name)
    found = client.search_runs([exp_id], f"tags.`assay._drive.law` = '{study.name}' and "
                               "tags.`assay.kind` = 'law'", max_results=1)
    if found:
        client.update_run(found[0].info.run_id, status="RUNNING")
        return found[0].info.run_id
    params = {"law.scale": json.dumps(study.law.scale), "law.tune": ",".join(study.law.tune),
              "law.trials": str(study.law.trials or study.sweep.trials),
              "law.seeds": json.dumps(study.law.seeds), "law.holdout": json.dumps(study.law.holdout)}
    return tracker.start_run(study.loaded.experiment.name, f"law-{study.name}",
                             {"assay.kind": "law", "assay._drive.law": study.name}, params)


def _is_log(d: Dist) -> bool:
    if d.kind == "choice":
        vals = [v for v in d.choice or [] if isinstance(v, (int, float))]
        return bool(vals) and min(vals) > 0 and max(vals) / min(vals) > 8
    return d.kind.startswith("log")


def _cast(v: float) -> Any:
    return int(v) if float(v).is_integer() else v


def _cast_like(d: Dist, v: float) -> Any:
    if d.kind in ("int", "log_int"):
        return int(round(v))
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
        if executor is not None:
            executor.set_warm(loaded.registry.sources, loaded.run.model_dump_json())
        result = run_law(loaded, store=store, workers=args.workers, scheduler=args.scheduler,
                         study_storage=args.study_storage, executor=executor)
    finally:
        if executor is not None:
            executor.close()
    print_law(result, loaded, store)
    return 0
