"""MKOR's claims at small scale: an MLP (2 hidden layers of 256) on 8x8 digits, batch 256, at
most 2000 steps. MKOR, SGD with momentum 0.9 and AdamW each sweep their learning rate over a
6-point half-decade grid; every run counts the steps until the full training loss is at most
0.05 (probed every 2 steps, ``mkor-steps-to-loss``) and times its steps.

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards: INVALID when an arm has no finished trial; NOT-ESTABLISHED
when a compared arm's best learning rate is its grid's smallest or largest value, or when the
baseline never reaches the target (its step count is censored, so the ratio is a bound).
"""
from __future__ import annotations

import math
import statistics

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_most, invalid, not_established, trials

LR = "methods.optimizer.lr"
STEPS = "train/steps_to_target"
PROBE = 2                 # steps between probes of the full training loss (arm files)
SGD_RATIO = 0.7           # MKOR needs at most 0.7x tuned SGD-momentum's steps ...
ADAMW_RATIO = 1.0         # ... and no more than tuned AdamW's
COST_RATIO = 2.0          # ... at no more than 2x SGD's time per step


def tuned(m: Metrics, arm: str) -> tuple[dict[str, float], list[float]] | None:
    """The arm's best trial (fewest steps to the target; ties by the lower final training
    loss) and its learning-rate grid; None without a finished trial."""
    done = [t for t in trials(m, arm) if STEPS in t and LR in t]
    if not done:
        return None
    best = min(done, key=lambda t: (t[STEPS], t.get("train/loss", math.inf)))
    return best, sorted({t[LR] for t in done})


def guard_of(m: Metrics, arm: str, baseline: str) -> Guard | None:
    runs = {a: tuned(m, a) for a in (arm, baseline)}
    missing = [a for a, r in runs.items() if r is None]
    if missing:
        return invalid(f"no finished trial for {', '.join(missing)}")
    edged = [a for a, (best, grid) in runs.items()             # type: ignore[misc]
             if len(grid) >= 3 and best[LR] in (grid[0], grid[-1])]
    if edged:
        return not_established(f"best lr at the grid's edge for {', '.join(edged)}")
    base = runs[baseline][0]                                    # type: ignore[index]
    if not base.get("train/reached", 0.0):
        return not_established(f"tuned {baseline} never reached the target loss: its step "
                               "count is censored")
    return None


def step_ratio(m: Metrics, baseline: str, threshold: float) -> Verdict:
    """log(steps of tuned MKOR / steps of tuned ``baseline``) <= log(threshold). Counts move
    in probes of 2 steps: the effect's resolution is one probe over the smaller count."""
    stop = guard_of(m, "mkor", baseline)
    if stop and stop.kind == "INVALID":
        return Verdict(stop.reason, guard=stop)
    (mk, _), (base, _) = tuned(m, "mkor"), tuned(m, baseline)    # type: ignore[misc]
    ratio = mk[STEPS] / base[STEPS]
    resolution = math.log1p(PROBE / min(mk[STEPS], base[STEPS]))
    return Verdict(f"steps to train loss <= 0.05: MKOR {mk[STEPS]:.0f} (lr {mk[LR]:g}), "
                   f"{baseline} {base[STEPS]:.0f} (lr {base[LR]:g}); ratio {ratio:.3f} "
                   f"(paper: <= {threshold})",
                   [at_most("log_step_ratio", math.log(ratio), math.log(threshold),
                            resolution=resolution)], guard=stop,
                   numbers={"step_ratio": ratio, "mkor_steps": mk[STEPS],
                            f"{baseline}_steps": base[STEPS], "mkor_lr": mk[LR],
                            f"{baseline}_lr": base[LR]})


def fewer_steps_than_sgd(m: Metrics) -> Verdict:
    return step_ratio(m, "sgd", SGD_RATIO)


def no_more_steps_than_adamw(m: Metrics) -> Verdict:
    return step_ratio(m, "adamw", ADAMW_RATIO)


def step_ms(m: Metrics, arm: str) -> float:
    """The arm's median process-CPU time per step over its finished trials (the step's cost
    does not depend on the learning rate; the median resists a trial slowed by other load)."""
    times = [t["cost/step_cpu_ms"] for t in trials(m, arm)
             if math.isfinite(t.get("cost/step_cpu_ms", math.nan))]
    return statistics.median(times) if times else math.nan


def step_cost(m: Metrics) -> Verdict:
    mk, sgd = step_ms(m, "mkor"), step_ms(m, "sgd")
    if not (math.isfinite(mk) and math.isfinite(sgd) and sgd > 0):
        stop = invalid(f"no step time for an arm (mkor {mk}, sgd {sgd})")
        return Verdict(stop.reason, guard=stop)
    ratio = mk / sgd
    return Verdict(f"CPU ms per step: MKOR {mk:.3f}, SGD {sgd:.3f}; ratio {ratio:.2f} "
                   f"(paper: <= {COST_RATIO})",
                   [at_most("log_cost_ratio", math.log(ratio), math.log(COST_RATIO))],
                   numbers={"cost_ratio": ratio, "mkor_ms": mk, "sgd_ms": sgd})


ARMS = {"mkor": "configs/mkor_digits.yaml", "sgd": "configs/sgd_digits.yaml",
        "adamw": "configs/adamw_digits.yaml"}
SOURCE = "arXiv:2306.01685, abstract and Sec. 5 (convergence per iteration against SGD/LAMB " \
         "and KFAC; per-iteration cost of the rank-1 updates)"
SMOKE = {"train.steps": 60, "train.eval_every": 30, "sweep.trials": 2}

CLAIMS = [
    Claim(
        id="mkor:fewer-steps-than-sgd",
        statement="With each learning rate tuned on the same kind of grid, MKOR (inverse "
                  "factors updated every step) brings a digits MLP to training loss 0.05 in at "
                  "most 0.7x the steps of SGD with momentum",
        source=SOURCE, arms={k: ARMS[k] for k in ("mkor", "sgd")},
        check=fewer_steps_than_sgd, package=__package__, budget_s=600, smoke=SMOKE,
    ),
    Claim(
        id="mkor:no-more-steps-than-adamw",
        statement="With each learning rate tuned, MKOR reaches training loss 0.05 on the "
                  "digits MLP in no more steps than AdamW",
        source=SOURCE, arms={k: ARMS[k] for k in ("mkor", "adamw")},
        check=no_more_steps_than_adamw, package=__package__, budget_s=600, smoke=SMOKE,
    ),
    Claim(
        id="mkor:step-cost",
        statement="An MKOR step (rank-1 inverse updates and preconditioning of every layer) "
                  "costs at most 2x the CPU time of an SGD-momentum step",
        source=SOURCE, arms={k: ARMS[k] for k in ("mkor", "sgd")},
        check=step_cost, package=__package__, budget_s=600, smoke=SMOKE,
    ),
]
