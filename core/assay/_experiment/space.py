"""The ``sweep:`` block: search space over dotted paths, sampler, pruner, budget."""
from __future__ import annotations

import builtins
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assay.errors import UserError, did_you_mean
from assay.spec import MAX_SEED, MAX_STEPS, RunSpec

if TYPE_CHECKING:
    import optuna

KINDS = ("log_uniform", "uniform", "int", "log_int", "choice")
MAX_TRIALS = 100_000
"""Bounds no real sweep reaches (TPE slows down long before); beyond them a value is a typo."""
MAX_TIMEOUT_S = 365 * 24 * 3600
_DOTTED = re.compile(r"[^\s.=]+(\.[^\s.=]+)*")


class Dist(BaseModel):
    """Exactly one of: log_uniform/uniform/int/log_int: [low, high], or choice: [values]."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    log_uniform: tuple[float, float] | None = None
    uniform: tuple[float, float] | None = None
    # builtins.int: inside this class body, a bare ``int`` would be the field below (None),
    # which made both integer kinds accept nothing but null
    int: tuple[builtins.int, builtins.int] | None = None
    log_int: tuple[builtins.int, builtins.int] | None = None
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
            odd = [v for v in self.choice if v is not None and not isinstance(v, (str, int, float))]
            if odd:                    # what Optuna can store as a categorical value
                raise ValueError("choice values are text, numbers, booleans or null; "
                                 f"got {odd[0]!r}")
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
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    trials: int = Field(20, ge=1, le=MAX_TRIALS,
                        description="Trials that must finish (complete, pruned or failed)")
    timeout_s: float | None = Field(None, gt=0, le=MAX_TIMEOUT_S,
                                    description="Stop asking for trials after this")
    sampler: Literal["tpe", "random", "grid", "cmaes", "nsgaii", "qmc"] = "tpe"
    pruner: Literal["none", "median", "percentile", "asha", "successive-halving",
                    "hyperband"] = "none"
    pruner_warmup_steps: int = Field(0, ge=0, le=MAX_STEPS,
                                     description="No pruning before this step")
    percentile: float = Field(25.0, gt=0, lt=100, description="For the percentile pruner")
    n_startup_trials: int = Field(5, ge=0, le=MAX_TRIALS,
                                  description="Trials before TPE/pruning kick in")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Sampler seed")
    max_retries: int = Field(2, ge=0, le=100, description="Retries of a run whose worker was lost")
    space: dict[str, Dist] = Field(default_factory=dict, description="dotted path -> distribution")

    @field_validator("space")
    @classmethod
    def _paths(cls, v: dict[str, Dist]) -> dict[str, Dist]:
        for path in v:
            if not _DOTTED.fullmatch(path):
                raise ValueError(f"{path!r} is not a dotted path (names joined by single dots, "
                                 "e.g. methods.optimizer.lr)")
        return v

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
        raise UserError("this experiment has no sweep: block; add one with a space to search, "
                        "e.g. sweep: {trials: 20, space: {methods.optimizer.lr: "
                        "{log_uniform: [1.0e-4, 1.0e-2]}}}")
    if not isinstance(raw, Mapping):
        raise UserError(f"sweep: expected a mapping (trials, sampler, space, ...), got {raw!r}")
    from assay._experiment.resolve import validate

    return validate(SweepSpec, raw, "sweep")


# --- the space against the experiment -----------------------------------------------------------

def probes(spec: SweepSpec) -> dict[str, list[Any]]:
    """The values a sweep can ask for at the edges: every choice, or both bounds."""
    return {path: list(d.choice or []) if d.kind == "choice" else list(getattr(d, d.kind))
            for path, d in spec.space.items()}


def field_paths(run: RunSpec) -> list[str]:
    """Every dotted path of a resolved run (components with their full configs)."""
    tree: dict[str, Any] = {"dataset": run.dataset, "model": run.model, "methods": run.methods,
                            "backend": run.backend, "train": run.train.model_dump()}
    out = _paths_of(tree, "")
    if run.pretrain is not None:
        out += ["pretrain." + p for p in field_paths(run.pretrain)]
    return out


def _paths_of(tree: Mapping[str, Any], prefix: str) -> list[str]:
    out = []
    for key, value in tree.items():
        out.append(prefix + str(key))
        if isinstance(value, Mapping):
            out += _paths_of(value, f"{prefix}{key}.")
    return out


def check_paths(values: Mapping[str, Sequence[Any]], build: Callable[[dict[str, Any]], Any],
                fields: Sequence[str], where: str) -> None:
    """Refuse, before any trial, a path that is not a field of the resolved experiment (with
    did-you-mean) or a value at its edges that the experiment refuses. ``build(overrides)``
    resolves the experiment with those overrides and raises UserError when it cannot.
    Otherwise every trial would fail, one by one, with the reason hidden in Optuna."""
    for path, vals in values.items():
        if path not in fields:
            try:
                build({path: vals[0]})
            except UserError:
                raise UserError(_no_field(path, fields, where)) from None
        for v in vals:
            try:
                build({path: v})
            except UserError as exc:
                raise UserError(f"{where}: {path} can take {v!r}, which the experiment refuses "
                                f"({exc}); change that value or range") from None


def _no_field(path: str, fields: Sequence[str], where: str) -> str:
    parent = path.rpartition(".")[0]
    while parent and parent not in fields:
        parent = parent.rpartition(".")[0]
    under = sorted({f[len(parent) + 1:].split(".")[0] for f in fields
                    if parent and f.startswith(parent + ".")})
    known = f" Fields of {parent}: {', '.join(under)}." if under else ""
    return (f"{where}: {path!r} is not a field of the resolved experiment, so every trial "
            f"would fail.{_path_hint(path, fields)}{known}")


def _path_hint(path: str, fields: Sequence[str]) -> str:
    """did-you-mean over the paths, plus abbreviations: learning_rate <-> lr."""
    parent, _, leaf = path.rpartition(".")
    for f in fields:
        f_parent, _, f_leaf = f.rpartition(".")
        if f_parent == parent and leaf and (_initials(f_leaf) == leaf or _initials(leaf) == f_leaf):
            return f" Did you mean {f!r}?"
    return did_you_mean(path, fields)


def _initials(name: str) -> str:
    words = [w for w in re.split(r"[_-]", name) if w]
    return "".join(w[0] for w in words) if len(words) > 1 else ""


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
