"""The ``sweep:`` block: search space over dotted paths, sampler, pruner, budget."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assay.errors import UserError

if TYPE_CHECKING:
    import optuna

KINDS = ("log_uniform", "uniform", "int", "log_int", "choice")


class Dist(BaseModel):
    """Exactly one of: log_uniform/uniform/int/log_int: [low, high], or choice: [values]."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    log_uniform: tuple[float, float] | None = None
    uniform: tuple[float, float] | None = None
    int: tuple[int, int] | None = None
    log_int: tuple[int, int] | None = None
    choice: list[Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> Dist:
        given = [k for k in KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(KINDS)}")
        kind = given[0]
        if kind == "choice":
            if not self.choice:
                raise ValueError("choice needs at least one value")
        else:
            lo, hi = getattr(self, kind)
            if not lo < hi:
                raise ValueError(f"{kind}: low must be below high, got [{lo}, {hi}]")
            if kind.startswith("log") and lo <= 0:
                raise ValueError(f"{kind}: bounds must be positive, got [{lo}, {hi}]")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k) is not None)

    def suggest(self, trial: optuna.Trial, name: str) -> Any:
        k = self.kind
        if k == "choice":
            return trial.suggest_categorical(name, self.choice)  # type: ignore[arg-type]
        lo, hi = getattr(self, k)
        if k in ("int", "log_int"):
            return trial.suggest_int(name, lo, hi, log=k == "log_int")
        return trial.suggest_float(name, lo, hi, log=k == "log_uniform")

    def grid(self) -> list[Any]:
        if self.kind != "choice":
            raise ValueError("the grid sampler needs choice: [...] for every parameter")
        return list(self.choice or [])


class SweepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    trials: int = Field(20, ge=1, description="Trials that must finish (complete, pruned or failed)")
    timeout_s: float | None = Field(None, gt=0, description="Stop asking for trials after this")
    sampler: Literal["tpe", "random", "grid", "cmaes", "nsgaii", "qmc"] = "tpe"
    pruner: Literal["none", "median", "percentile", "asha", "successive-halving",
                    "hyperband"] = "none"
    pruner_warmup_steps: int = Field(0, ge=0, description="No pruning before this step")
    percentile: float = Field(25.0, gt=0, lt=100, description="For the percentile pruner")
    n_startup_trials: int = Field(5, ge=0, description="Trials before TPE/pruning kick in")
    seed: int = Field(0, ge=0, description="Sampler seed")
    max_retries: int = Field(2, ge=0, description="Retries of a run whose worker was lost")
    space: dict[str, Dist] = Field(default_factory=dict, description="dotted path -> distribution")

    @model_validator(mode="after")
    def _grid(self) -> SweepSpec:
        if self.sampler == "grid":
            for d in self.space.values():
                d.grid()
        return self

    def grid_size(self) -> int:
        return math.prod(len(d.grid()) for d in self.space.values())


def parse_sweep(raw: dict[str, Any] | None) -> SweepSpec:
    if raw is None:
        raise UserError("this experiment has no sweep: block")
    try:
        return SweepSpec.model_validate(raw)
    except ValidationError as exc:
        from assay._experiment.resolve import _format_pydantic

        raise UserError(_format_pydantic(exc, "sweep")) from None


def make_sampler(spec: SweepSpec, n_objectives: int) -> optuna.samplers.BaseSampler:
    import optuna

    s = spec.sampler
    if s == "grid":
        return _grid_sampler()({k: d.grid() for k, d in spec.space.items()}, seed=spec.seed)
    if s == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    if s == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=spec.seed, n_startup_trials=spec.n_startup_trials)
    if s == "qmc":
        return optuna.samplers.QMCSampler(seed=spec.seed)
    if s == "nsgaii" or n_objectives > 1:
        return optuna.samplers.NSGAIISampler(seed=spec.seed)
    return optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=spec.n_startup_trials,
                                      constant_liar=True)


def make_pruner(spec: SweepSpec, max_steps: int, eval_every: int) -> optuna.pruners.BasePruner:
    import optuna

    p, warm = spec.pruner, spec.pruner_warmup_steps
    if p == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=spec.n_startup_trials,
                                           n_warmup_steps=warm)
    if p == "percentile":
        return optuna.pruners.PercentilePruner(spec.percentile, n_startup_trials=spec.n_startup_trials,
                                               n_warmup_steps=warm)
    if p in ("asha", "successive-halving"):
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(eval_every, warm or 1))
    if p == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(eval_every, warm or 1),
                                              max_resource=max_steps)
    return optuna.pruners.NopPruner()


def _grid_sampler() -> type:
    import optuna

    class AskTellGridSampler(optuna.samplers.GridSampler):
        """Optuna's GridSampler calls ``study.stop()`` when the grid is used up, which only
        works inside ``study.optimize``; the sweep driver checks exhaustion itself."""

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            return None

    return AskTellGridSampler
