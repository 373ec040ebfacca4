"""``assay verify``: run claims through the normal executor and tracking, decide, print, record.

Each claim is one MLflow parent run (experiment ``claims``); its arms' runs (or sweeps) are
children. For each seed every arm runs (``train.seed`` overridden) and the claim's ``check``
turns the seed's numbers into a :class:`~assay.claims.Verdict`; ``claim.decide`` turns the
verdicts into a :class:`~assay.claims.Decision` (interval over seeds, guards first). At the
full budget, starting from the claim's own seed count, seeds are added by the claim's rule
while the decision is INCONCLUSIVE. ``smoke`` runs the same code on a tiny budget (the claim's
``smoke`` overrides, exactly the seeds asked) and its verdicts are labelled as not results.
The decision is recorded on the parent run (tags, metrics and ``claim/decision.json``), with
the commit the code ran at; CLAIMS.md is written from it (``claims_md``).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from assay._drive.claims_md import code_state, plugin_dir, stale_rows, write_claims_md
from assay._drive.verify_report import print_outcome, print_outcomes, record
from assay._plugins.registry import Registry, registry
from assay._record.tracking import Store, Tracker
from assay.claims import Claim, Decision, Verdict
from assay.errors import UserError, unknown_name

__all__ = ["Outcome", "print_outcome", "print_outcomes", "run_claim", "run_verify_cli",
           "select", "write_claims_md"]

console = Console(highlight=False)
EXPERIMENT = "claims"


@dataclass
class Outcome:
    claim: Claim
    budget: str
    status: str                                   # the decision's status, or ERROR
    decision: Decision | None = None
    per_seed: list[dict[str, float]] = field(default_factory=list)   # the numbers checked
    seed_verdicts: list[Verdict] = field(default_factory=list)
    wall_s: float = 0.0
    run_id: str = ""
    error: str = ""
    commit: str = ""
    dirty: list[str] = field(default_factory=list)   # run-path files differing from commit

    @property
    def seeds(self) -> int:
        return len(self.seed_verdicts)


def select(reg: Registry, names: Sequence[str], all_: bool) -> list[Claim]:
    if all_ or not names:
        if not all_:
            raise UserError("name plugins or claim ids to verify, or pass --all")
        return list(reg.claims.values())
    chosen: list[Claim] = []
    for n in names:
        hits = [c for c in reg.claims.values() if c.id == n or c.plugin == n]
        if not hits:
            raise unknown_name("plugin or claim", n,
                               {*reg.claims, *(c.plugin for c in reg.claims.values())})
        chosen += [c for c in hits if c not in chosen]
    return chosen


# --- one arm, one seed --------------------------------------------------------------------

def arm_overrides(claim: Claim, arm: str, raw: dict[str, Any], seed: int,
                  budget: str) -> dict[str, Any]:
    """The dotted overrides of one arm's run, later entries winning: the budget's, then the
    claim's ``arm_overrides`` for the arm (a negative control's change must survive the smoke
    budget, e.g. ``train.steps: 1``), then the seed (the seed is verify's)."""
    out: dict[str, Any] = {}
    if budget == "smoke":
        out.update({k: v for k, v in claim.smoke.items()
                    if not k.startswith("sweep.") or raw.get("sweep")})
        if raw.get("pretrain"):                   # a tiny budget for the pretraining too
            out.update({f"pretrain.{k}": v for k, v in claim.smoke.items()
                        if k.startswith("train.")})
    out.update(claim.arm_overrides.get(arm, {}))
    out["train.seed"] = seed
    return out


@dataclass
class _Env:
    """What every arm run of one claim shares."""
    store: Store
    parent: str
    reg: Registry
    workers: int | None = None
    executor: Any = None


def _arm_metrics(claim: Claim, arm: str, seed: int, budget: str, env: _Env) -> dict[str, float]:
    from assay._drive.run import load
    from assay._experiment.resolve import load_yaml

    raw = load_yaml(claim.arm_path(arm))
    loaded = load(raw, arm_overrides(claim, arm, raw, seed, budget), plugins=env.reg.sources)
    if loaded.experiment.sweep:
        return _sweep_metrics(claim, arm, seed, budget, env, loaded)
    return _run_metrics(arm, seed, env, loaded)


def _run_metrics(arm: str, seed: int, env: _Env, loaded: Any) -> dict[str, float]:
    """A run arm's final metrics. A run that diverged (non-finite loss) reports NaN for its
    metrics, so that the check sees the divergence (its guard, or a non-finite effect: INVALID)
    instead of the last finite numbers before it."""
    from assay._drive.run import run_once

    _, result, reused = run_once(loaded, env.store, progress=False, parent=env.parent,
                                 experiment=EXPERIMENT)
    metrics = result if reused else result.metrics
    if not reused and result.status != "finished":
        if not result.error.startswith("non-finite loss"):
            raise RuntimeError(f"arm {arm!r} (seed {seed}) {result.status}: {result.error}")
        metrics = {k: v if k.startswith("cost/") else math.nan
                   for k, v in {"val/loss": math.nan, **metrics}.items()}
    return {f"{arm}/{k}": float(v) for k, v in metrics.items()}


def _sweep_metrics(claim: Claim, arm: str, seed: int, budget: str, env: _Env,
                   loaded: Any) -> dict[str, float]:
    from assay._drive.sweep import Driver
    from assay._experiment.space import parse_sweep

    driver = Driver(loaded, parse_sweep({**loaded.experiment.sweep}), store=env.store,
                    study_name=_study_name(claim, arm, seed, budget, loaded),
                    experiment=EXPERIMENT, progress=False,
                    workers=env.workers, executor=env.executor, plots=budget == "full",
                    extra_tags={"mlflow.parentRunId": env.parent, "assay.claim": claim.id,
                                "assay.arm": arm})
    result = driver.run()
    if result.best is None:
        errors = sorted({r.error for r in result.trials if r.error})
        raise RuntimeError(f"arm {arm!r} (seed {seed}): no trial finished; "
                           f"errors: {'; '.join(errors)[:500] or 'none recorded'}")
    objective = loaded.experiment.objective.metrics
    out = {f"{arm}/best/{k}": float(v) if _num(v) else math.nan
           for k, v in result.best.params.items()}
    out.update({f"{arm}/best/{n}": v for n, v in zip(objective, result.best.values or [])})
    for t in driver.study.trials:
        if t.state.name == "COMPLETE":
            out.update({f"{arm}/trials/{t.number}/{k}": v
                        for k, v in _trial_numbers(driver, t, objective).items()})
    return out


def _study_name(claim: Claim, arm: str, seed: int, budget: str, loaded: Any) -> str:
    """The arm's Optuna study, resumed by a re-run of the same design only: a changed arm (its
    base run, which includes threads and plugin versions, or its search space) starts a new
    study instead of counting trials that ran another configuration."""
    import hashlib

    from assay.spec import canonical

    design = canonical({"run": loaded.run.key, "sweep": loaded.experiment.sweep})
    return f"{claim.id}.{arm}.seed{seed}.{budget}.{hashlib.sha256(design.encode()).hexdigest()[:8]}"


def _trial_numbers(driver: Any, trial: Any, objective: Sequence[str]) -> dict[str, float]:
    """A finished trial's numeric parameters and every final metric its run recorded (from
    the driver's run-key index: this sweep's results, and runs reused from the store)."""
    out = {k: float(v) for k, v in trial.params.items() if _num(v)}
    ran = driver.finished.get(trial.user_attrs.get("run_key", ""), {})
    out.update({k: float(v) for k, v in ran.get("metrics", {}).items() if _num(v)})
    out.update(zip(objective, trial.values))      # the values Optuna was told
    return out


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# --- seeds --------------------------------------------------------------------------------

def decide_over_seeds(claim: Claim, n: int, verdict_of: Callable[[int], Verdict],
                      adaptive: bool, verdicts: list[Verdict] | None = None) -> Decision:
    """Verdicts of seeds 0..n-1 (appended to ``verdicts``), then the claim's decision; while
    it is INCONCLUSIVE and ``adaptive``, seeds are added by the claim's rule."""
    verdicts = [] if verdicts is None else verdicts
    while True:
        for seed in range(len(verdicts), n):
            verdicts.append(verdict_of(seed))
        decision = claim.decide(verdicts)
        extra = claim.more_seeds(decision, n) if adaptive else 0
        if not extra:
            return decision
        n += extra


def start_parent(tracker: Tracker, claim: Claim, budget: str) -> str:
    """The claim's parent run, which its arms' runs hang under and its decision goes on."""
    return tracker.start_run(EXPERIMENT, f"{claim.id} ({budget})", {
        "assay.kind": "claim", "assay.claim": claim.id, "assay.budget": budget,
        "assay.statement": claim.statement, "assay.source": claim.source,
        "assay.plugin": claim.plugin})


def run_claim(claim: Claim, budget: str = "smoke", seeds: int | None = None,
              store: Store | None = None, workers: int | None = None,
              executor: Any = None, reg: Registry | None = None) -> Outcome:
    """Run one claim end to end and return its outcome (recorded in MLflow)."""
    store = store or Store.resolve()
    tracker = Tracker(store)
    reg = reg or registry()
    n = seeds or (claim.seeds if budget == "full" else 1)
    started = time.perf_counter()
    parent = start_parent(tracker, claim, budget)
    outcome = Outcome(claim, budget, "ERROR", run_id=parent)
    outcome.commit, outcome.dirty = code_state(claim)
    env = _Env(store, parent, reg, workers, executor)

    def verdict_of(seed: int) -> Verdict:
        m: dict[str, float] = {}
        for arm in claim.arms:
            m.update(_arm_metrics(claim, arm, seed, budget, env))
        outcome.per_seed.append(m)
        return claim.check(m)

    try:
        adaptive = budget == "full" and n == claim.seeds
        outcome.decision = decide_over_seeds(claim, n, verdict_of, adaptive,
                                             outcome.seed_verdicts)
        outcome.status = outcome.decision.status
    except (UserError, KeyboardInterrupt):
        tracker.end_run(parent, "failed")
        raise
    except Exception as exc:  # noqa: BLE001 - one broken claim must not stop the others
        outcome.error = f"{type(exc).__name__}: {exc}"
    outcome.wall_s = time.perf_counter() - started
    record(tracker, outcome)
    return outcome


# --- the command --------------------------------------------------------------------------

def print_stale(reg: Registry, path: Path = Path("CLAIMS.md")) -> None:
    """``assay verify --stale``: the CLAIMS.md rows whose code changed since their commit."""
    if not path.exists():
        raise UserError(f"{path} not found: run from the folder holding CLAIMS.md")
    dirs = {cid: plugin_dir(c) for cid, c in reg.claims.items()}
    for line in stale_rows(path, dirs):
        print(line)


def run_verify_cli(args: Any) -> int:
    from assay._dispatch.executor import make_executor
    from assay._drive.run import _abs

    reg = registry(tuple(_abs(p, Path(".")) for p in args.plugin))
    if getattr(args, "stale", False):
        print_stale(reg)
        return 0
    store = Store.resolve(args.tracking_uri)
    claims = [] if (args.write_claims and not args.plugins_or_claims and not args.all) else \
        select(reg, args.plugins_or_claims, args.all)
    outcomes = []
    executor = None
    if claims and args.workers != 0:
        executor = make_executor(args.workers, None, store.root, kind="verify",
                                 warm=(reg.sources, None))
    try:
        for claim in claims:
            console.print(f"verifying [bold]{claim.id}[/] ({args.budget})")
            outcomes.append(run_claim(claim, args.budget, args.seeds, store, args.workers,
                                      executor, reg))
            print_outcome(outcomes[-1])
    finally:
        if executor is not None:
            executor.close()
    if len(outcomes) > 1:
        print_outcomes(outcomes, args.budget)
    if args.write_claims:
        path = write_claims_md(store, reg)
        console.print(f"wrote {path}")
    return 1 if any(o.status == "ERROR" for o in outcomes) else 0
