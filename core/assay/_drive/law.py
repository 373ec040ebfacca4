"""``assay law``: hyperparameter-law studies whose design cannot fool itself.

A study searches every scale point (and law seed) with its own Optuna search through the
sweep machinery (Dask, MLflow children of the law's parent run, pruning, resume, run-key
reuse), estimates each point's optimum (:mod:`assay.lib.optimum`), fits a power law per tuned
hyperparameter (:mod:`assay._drive.lawfit`), writes its predictions for the holdout points
down (a ledger file and MLflow artifact) *before* they run, then searches the holdouts
independently and scores the predictions.

The design rules, each a failure seen in earlier versions:

- Every search has its own sampler seed, derived from the study's seed (``sweep.seed``) and
  name, the point, the law seed and the round (:func:`derive_seed`). One shared seed made every point
  probe the same values, so every optimum was clipped to the same window and the holdout
  shared the fit's bias.
- A point's optimum must be bracketed: trials on both sides of the estimate inside its
  fitting window (``law.window``). When it is not, the point keeps searching; a side whose
  range bound lies inside the window is widened by ``law.widen.octaves``, until the point
  has used ``law.widen.max_trials`` trials. A point still unbracketed is *censored*: reported
  as such and left out of the fit.
- A law needs at least 3 scale points (and one more than it has parameters), declared and
  fitted; fewer are refused, before any run when declared, at the fit when censored.
- Diagnostics (trials, distinct values probed, rounds, censored points, probes a point shares
  with another) are printed and written with the results (:mod:`assay._drive.law_report`).

The design (:class:`Design`) only sees a search function (:data:`Search`). ``LawStudy`` gives
it one that runs the sweep driver; :class:`InProcessSearch` runs a Python objective in this
process, so ``bench/law_calibration.py`` and the tests exercise the same design and fit code
without MLflow.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from rich.console import Console

from assay._drive.lawfit import LawFit, fit_law, point_estimate
from assay._drive.run import Loaded, load
from assay._experiment.space import Dist, SweepSpec, make_sampler, parse_sweep
from assay._record.tracking import Store, Tracker
from assay.errors import UserError
from assay.lib.optimum import Optimum, estimate_optimum

console = Console(highlight=False)
LN2 = math.log(2)
SHARED_FLAG = 2          # a point sharing this many probe values with another is flagged


class Widen(BaseModel):
    """How an unbracketed point keeps searching."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    octaves: float = Field(2.0, gt=0, le=10, description="octaves a censored side's range bound "
                           "moves per round (a linear range: half its width)")
    trials: int | None = Field(None, ge=1, description="trials added per round (default: half "
                               "the first round's, at least 4)")
    max_trials: int | None = Field(None, ge=1, description="trial budget per point, first round "
                                   "included (default: twice the first round)")


class LawSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    scale: dict[str, list[float]] = Field(..., description="dotted path -> scale values")
    tune: list[str] = Field(..., min_length=1, description="hyperparameters whose optimum is fitted")
    trials: int | None = Field(None, ge=5, description="trials per point in the first round "
                               "(default sweep.trials)")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1,
                             description="law seeds: each point is searched once per seed, with "
                                         "that training seed")
    holdout: list[dict[str, float]] = Field(default_factory=list, description="points to predict")
    window: float = Field(2.0, gt=0, le=10, description="half-width of the fitting window around "
                          "a point's optimum: octaves (a linear range: window/8 of its width)")
    widen: Widen = Field(default_factory=Widen, description="search rule for unbracketed points")
    warm_start: bool = Field(False, description="centre later points' search on the law so far")
    n_boot: int = Field(200, ge=20, description="bootstrap resamples per point")

    @model_validator(mode="after")
    def _check(self) -> LawSpec:
        if not self.scale or any(len(v) < 1 for v in self.scale.values()):
            raise ValueError("scale needs at least one axis with values")
        for h in self.holdout:
            if set(h) != set(self.scale):
                raise ValueError(f"holdout point {h} must give every scale axis {list(self.scale)}")
        for axis, values in self.scale.items():
            if len(set(values)) != len(values):
                raise ValueError(f"scale.{axis}: values must be distinct, got {values}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {self.seeds}")
        n, need = len(_points(self)), min_points(self.scale)
        if n < need:
            given = ", ".join(f"{k} {v}" for k, v in self.scale.items())
            raise ValueError(
                f"a law needs at least {need} scale points, this one has {n} ({given}): one "
                "point cannot give an exponent, and a fit with no spare point cannot be "
                "checked; add values to law.scale")
        return self

    def first_trials(self, sweep: SweepSpec) -> int:
        return self.trials or sweep.trials

    def max_trials(self, sweep: SweepSpec) -> int:
        return self.widen.max_trials or 2 * self.first_trials(sweep)

    def step_trials(self, sweep: SweepSpec) -> int:
        return self.widen.trials or max(4, self.first_trials(sweep) // 2)


def min_points(scale: Mapping[str, list[float]]) -> int:
    """Points a law over ``scale`` needs: 3, and always one more than its parameters."""
    varying = sum(len(set(v)) > 1 for v in scale.values())
    return max(3, varying + 2)


def parse_law(raw: dict[str, Any] | None) -> LawSpec:
    from assay._experiment.resolve import validate

    if raw is None:
        raise UserError("this experiment has no law: block")
    spec: LawSpec = validate(LawSpec, raw, "law")
    return spec


def check_law(law: LawSpec, sweep: SweepSpec) -> None:
    """What the law block and the sweep block must agree on, checked before any run."""
    for p in law.tune:
        if p not in sweep.space:
            raise UserError(f"law.tune: {p!r} needs a range in sweep.space")
        d = sweep.space[p]
        if d.kind == "choice" and not all(isinstance(c, (int, float)) and not isinstance(c, bool)
                                          and c > 0 for c in d.choice or []):
            raise UserError(f"sweep.space.{p}: a tuned hyperparameter needs positive numbers "
                            f"(a law is fitted to log(optimum)), got {d.choice}")
    first = law.first_trials(sweep)
    if first < 5:
        raise UserError(f"law.trials: {first} trials per point cannot bracket an optimum "
                        f"(need {2 * 2 + 1}: two each side of it and one near it); set "
                        "law.trials to at least 5")
    if law.max_trials(sweep) < first:
        raise UserError(f"law.widen.max_trials: {law.max_trials(sweep)} is below the first "
                        f"round's {first} trials")


# --- seeds, searches and what a point's search gives ----------------------------------------

def derive_seed(*parts: Any) -> int:
    """A sampler or bootstrap seed from the study's seed and what the stream is for: stable
    across runs and machines (a hash, not Python's salted ``hash``)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % (2 ** 31 - 1)


@dataclass(frozen=True)
class SearchRound:
    """One round of one point's search: finish ``trials`` trials in total in study ``study``
    over ``space``, with sampler seed ``sampler_seed``."""

    kind: str                        # fit | holdout
    scale: dict[str, float]
    seed: int                        # the law seed (the runs' training seed)
    round: int
    space: dict[str, Dist]
    trials: int
    sampler_seed: int
    study: str


Rows = list[tuple[dict[str, Any], float]]
Search = Callable[[SearchRound], Rows]     # every COMPLETE trial of the study so far


@dataclass
class PointResult:
    scale: dict[str, float]
    optima: dict[str, Optimum]
    best_loss: float
    trials: Rows = field(default_factory=list)
    kind: str = "fit"
    seed: int = 0
    rounds: int = 1
    sampler_seeds: list[int] = field(default_factory=list)
    ranges: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    shared: dict[str, int | None] = field(default_factory=dict)   # None: a grid, shared by design

    @property
    def label(self) -> str:
        return _label(self.scale) + (f" seed {self.seed}" if self.seed else "")

    @property
    def censored(self) -> dict[str, str]:
        return {hp: o.censored for hp, o in self.optima.items() if o.censored}

    @property
    def coincident(self) -> bool:
        return any(n is not None and n >= SHARED_FLAG for n in self.shared.values())


def _points(spec: LawSpec) -> list[dict[str, float]]:
    axes = list(spec.scale)
    return [dict(zip(axes, combo)) for combo in itertools.product(*spec.scale.values())]


def _label(point: Mapping[str, float]) -> str:
    return ",".join(f"{k.split('.')[-1]}={v:g}" for k, v in point.items())


def _is_log(d: Dist) -> bool:
    if d.kind == "choice":
        vals = [v for v in d.choice or [] if isinstance(v, (int, float))]
        return bool(vals) and min(vals) > 0 and max(vals) / min(vals) > 8
    return d.kind.startswith("log")


def _bounds(d: Dist) -> tuple[float, float] | None:
    return None if d.kind == "choice" else tuple(getattr(d, d.kind))  # type: ignore[return-value]


# --- the design ---------------------------------------------------------------------------------

@dataclass
class Fitted:
    fits: dict[str, LawFit]
    refused: str = ""                 # why no law was fitted ("" when fitted)
    left_out: dict[str, list[str]] = field(default_factory=dict)   # hp -> censored points


class Design:
    """What to search and what the searches mean: the part of a law study that the real
    command, the calibration bench and the tests share."""

    def __init__(self, law: LawSpec, sweep: SweepSpec, search: Search, *, name: str,
                 say: Callable[[str], None] = lambda msg: None) -> None:
        check_law(law, sweep)
        self.law, self.sweep, self.search, self.name, self.say = law, sweep, search, name, say
        self.study_seed = sweep.seed

    def half_width(self, hp: str) -> float:
        d = self.sweep.space[hp]
        if _is_log(d):
            return self.law.window * LN2
        lo, hi = _bounds(d) or (0.0, 1.0)
        return self.law.window / 8 * (hi - lo)

    def search_point(self, kind: str, scale: dict[str, float], seed: int,
                     space: dict[str, Dist] | None = None) -> PointResult:
        """Search one point until every tuned optimum is bracketed or the budget is spent."""
        space = dict(space or self.sweep.space)
        target, cap = self.law.first_trials(self.sweep), self.law.max_trials(self.sweep)
        study = f"{self.name}.{kind}.{_label(scale)}.seed{seed}"
        seeds: list[int] = []
        for rnd in itertools.count():
            seeds.append(derive_seed(self.study_seed, self.name, kind, scale, seed, rnd))
            rows = self.search(SearchRound(kind, scale, seed, rnd, space, target, seeds[-1], study))
            if not rows:
                raise UserError(f"no trial finished at {kind} point {_label(scale)} (seed {seed})")
            optima = self._optima(rows, kind, scale, seed)
            todo = [hp for hp, o in optima.items() if o.censored and space[hp].kind != "choice"]
            if not todo or target >= cap:
                break
            space = {k: _widen(d, optima[k], self.half_width(k), self.law.widen.octaves)
                     if k in todo else d for k, d in space.items()}
            target = min(target + self.law.step_trials(self.sweep), cap)
            self.say(f"    not bracketed ({', '.join(f'{_short(k)} {optima[k].censored}' for k in todo)}"
                     f"): searching on to {target} trials" + "".join(
                         f", {_short(k)} in {_fmt_range(space[k])}" for k in todo))
        return PointResult(scale, optima, min(r[1] for r in rows), rows, kind, seed, rnd + 1,
                           seeds, {k: _bounds(space[k]) for k in self.law.tune})

    def _optima(self, rows: Rows, kind: str, scale: dict[str, float], seed: int
                ) -> dict[str, Optimum]:
        out = {}
        for hp in self.law.tune:
            xy = [(r[0][hp], r[1]) for r in rows if hp in r[0]]
            out[hp] = estimate_optimum(
                [p[0] for p in xy], [p[1] for p in xy], log=_is_log(self.sweep.space[hp]),
                half_width=self.half_width(hp), n_boot=self.law.n_boot,
                seed=derive_seed(self.study_seed, self.name, "bootstrap", kind, scale, seed, hp))
        return out

    def fit(self, points: list[PointResult]) -> Fitted:
        """The law per tuned hyperparameter from the bracketed points, or the reason not."""
        axes = list(self.law.scale)
        fits, left_out = {}, {}
        need = min_points(self.law.scale)
        for hp in self.law.tune:
            by_scale: dict[tuple[float, ...], list[Optimum]] = {}
            for p in points:
                if p.optima[hp].bracketed:
                    by_scale.setdefault(tuple(p.scale[a] for a in axes), []).append(p.optima[hp])
            left_out[hp] = [p.label for p in points if not p.optima[hp].bracketed]
            declared = {a for a in axes if len(set(self.law.scale[a])) > 1}
            fitted = {a for i, a in enumerate(axes) if len({s[i] for s in by_scale}) > 1}
            if len(by_scale) < need or fitted != declared:
                return Fitted({}, _refusal(hp, len(by_scale), need, left_out[hp]), left_out)
            fits[hp] = fit_law(axes, [list(s) for s in by_scale],
                               [point_estimate(v) for v in by_scale.values()])
        return Fitted(fits, "", left_out)


def _refusal(hp: str, n: int, need: int, censored: list[str]) -> str:
    return (f"no law for {hp}: {n} scale point(s) bracket their optimum and a law needs "
            f"{need}; censored: {', '.join(censored) or 'none'}. Widen sweep.space.{hp} "
            "or raise law.widen.max_trials")


def mark_coincident(points: list[PointResult], tune: list[str], space: Mapping[str, Dist]) -> None:
    """Count, per point, its probe values that another point (fit or holdout) also probed.
    Independent samplers on a continuous range never repeat a value; shared values mean
    shared sampler streams (and shared bias). A grid shares its values by design (None)."""
    for hp in tune:
        probes = [{f"{r[0][hp]:.12g}" for r in p.trials if hp in r[0]} for p in points]
        for i, p in enumerate(points):
            if space[hp].kind == "choice":
                p.shared[hp] = None
                continue
            others = set().union(*(v for j, v in enumerate(probes) if j != i))
            p.shared[hp] = len(probes[i] & others)


def _widen(d: Dist, o: Optimum, half_width: float, octaves: float) -> Dist:
    """``d`` with the censored side's bound moved out when the optimum's window reaches it;
    unchanged otherwise (the point then just gets more trials)."""
    if o.censored not in ("low", "high") or d.kind == "choice":
        return d
    lo, hi = getattr(d, d.kind)
    logs = _is_log(d)
    u = math.log(o.value) if logs else o.value
    if o.censored == "low" and (math.log(lo) if logs else lo) > u - half_width:
        lo = lo / 2 ** octaves if logs else lo - (hi - lo) / 2
    elif o.censored == "high" and (math.log(hi) if logs else hi) < u + half_width:
        hi = hi * 2 ** octaves if logs else hi + (hi - lo) / 2
    if d.kind in ("int", "log_int"):
        lo, hi = max(1 if logs else lo, math.floor(lo)), math.ceil(hi)
    return Dist(**{d.kind: (lo, hi)})


def _fmt_range(d: Dist) -> str:
    b = _bounds(d)
    return "grid" if b is None else f"[{b[0]:.3g}, {b[1]:.3g}]"


def _short(path: str) -> str:
    return path.split(".")[-1]


# --- an in-process search (bench, tests) ------------------------------------------------------

Objective = Callable[[Mapping[str, float], int, Mapping[str, Any]], float]


class InProcessSearch:
    """Searches on a Python objective ``objective(scale, seed, params) -> loss`` in this
    process: an in-memory Optuna study per point, with the sampler the sweep block names,
    built and (for a continued study) reseeded as the sweep driver does.
    Like the driver with two workers, up to ``depth`` trials are asked before the oldest is
    told (two running and one queued behind each), so a sampler sees what it would see
    there. A non-finite loss is a failed trial."""

    def __init__(self, objective: Objective, sweep: SweepSpec, depth: int = 4) -> None:
        self.objective, self.sweep, self.depth = objective, sweep, depth
        self.studies: dict[str, Any] = {}
        self.calls = 0

    def __call__(self, r: SearchRound) -> Rows:
        import optuna
        from optuna.trial import TrialState

        from assay._drive.sweep.resume import reseed

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sweep = self.sweep.model_copy(update={"space": r.space, "seed": r.sampler_seed,
                                              "trials": r.trials})
        study = self.studies.get(r.study)
        if study is None:
            study = self.studies[r.study] = optuna.create_study(direction="minimize")
        study.sampler = make_sampler(sweep, 1)
        reseed(study, sweep, 1)                       # a continued study, as the driver does
        done = sum(t.state != TrialState.RUNNING for t in study.trials)
        pending: list[Any] = []
        while done < r.trials or pending:
            while done + len(pending) < r.trials and len(pending) < self.depth:
                t = study.ask()
                pending.append((t, {k: d.suggest(t, k) for k, d in r.space.items()}))
            trial, params = pending.pop(0)
            loss = float(self.objective(r.scale, r.seed, params))
            self.calls += 1
            if math.isfinite(loss):
                study.tell(trial, loss)
            else:
                study.tell(trial, state=TrialState.FAIL)
            done += 1
        return [(dict(t.params), float(t.values[0])) for t in study.trials
                if t.state == TrialState.COMPLETE]


@dataclass
class DesignResult:
    """An in-process study's outcome (what ``LawStudy`` adds: MLflow, the run at the
    prediction)."""

    points: list[PointResult]
    fitted: Fitted
    predictions: list[dict[str, Any]]
    holdout: list[PointResult]


def run_design(law: LawSpec, sweep: SweepSpec, search: Search, name: str = "law") -> DesignResult:
    """A whole law study through ``search`` (no MLflow): fit points, law, predictions, then
    the holdouts searched independently."""
    design = Design(law, sweep, search, name=name)
    points = [design.search_point("fit", s, seed) for s in _points(law) for seed in law.seeds]
    fitted = design.fit(points)
    predictions = predict(law, fitted)
    holdout = [design.search_point("holdout", h, seed) for h in law.holdout
               for seed in law.seeds[:1]] if fitted.fits else []
    mark_coincident(points + holdout, law.tune, sweep.space)
    return DesignResult(points, fitted, predictions, holdout)


def predict(law: LawSpec, fitted: Fitted) -> list[dict[str, Any]]:
    out = []
    if not fitted.fits:
        return out
    for h in law.holdout:
        s = [h[a] for a in law.scale]
        out.append({"scale": h, "predicted": {
            hp: {"value": f.predict(s), "interval": f.predict_interval(s)}
            for hp, f in fitted.fits.items()}, "written_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return out


# --- the study on the sweep machinery ----------------------------------------------------------

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
                                    "assay._drive.law": self.name,
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
    found = client.search_runs([exp_id], f"tags.`assay._drive.law` = '{study.name}' and "
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
                             {"assay.kind": "law", "assay._drive.law": study.name}, params)


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
