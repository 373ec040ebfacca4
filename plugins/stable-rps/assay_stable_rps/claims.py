"""STABLE-RPS's claims at small scale: MNIST-1D, MLP 40-256-256-10 (78,336 linear weights),
AdamW, each arm's learning rate swept on a grid per seed (the beats-* claims' arms on
3e-4..3e-1, 7 points half a decade apart; pareto's on 3e-4..3e-2, 5 points), 5 seeds.

Memory is counted the paper's way: the linear weights are compressed (the RPS array, or the
nonzero weights a pruned net keeps) and the 522 biases stay dense in every arm; the narrow
dense net is the widest whose whole parameter count does not exceed the RPS arm's.

Each check returns, per seed, the accuracy gaps in points of validation accuracy (each arm's
best trial over its grid); the verdict is the t-interval over seeds (``decide``). Guards:
INVALID when an arm has no finite trial, a baseline's best trial is at chance (10 classes),
or a baseline holds more parameters than the RPS arm it is compared with; NOT-ESTABLISHED when
an arm's best learning rate is the grid's smallest or largest.

The catalog prescribes Adam. Adam normalises a fixed per-parameter gradient scale away, so
STABLE-RPS's gradient scaling (its fix for ROAST's init sensitivity under SGD) is not what
these claims test; they test the headline: at 1/32 and 1/64 STABLE-RPS beats pruning and a
narrow net of the same memory, and at 1x it recovers the dense net.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, above, at_most, best, invalid, sweep_guard, trials

LR = "methods.optimizer.lr"
ACC = "val/acc"
CHANCE = 0.1
SEEDS = 5
SOURCE = "arXiv:2310.11611, Sec. 5 (memory-accuracy trade-off, Figs. 4-5) and Sec. 4 (STABLE-RPS)"
PARETO_GAP = 0.5               # points of accuracy: the catalog's "within 0.5 pt" of dense


def count(m: Metrics, arm: str) -> float:
    """Parameters an arm holds (nonzero ones for a pruned net, all of them otherwise), the
    largest over its trials; NaN when no trial recorded it."""
    counts = [t.get("sparsity/nonzero_params", t.get("cost/params", math.nan))
              for t in trials(m, arm)]
    return max((c for c in counts if math.isfinite(c)), default=math.nan)


def budget_guard(m: Metrics, pairs: dict[str, str]) -> Guard | None:
    """INVALID when a baseline holds more parameters than the RPS arm it is compared with."""
    over = [f"{b} {count(m, b):.0f} > {r} {count(m, r):.0f}" for r, b in pairs.items()
            if not count(m, b) <= count(m, r)]          # NaN (not recorded) is not <=
    if not over:
        return None
    return invalid("baseline over the RPS arm's memory (or not recorded): " + "; ".join(over))


def guards(m: Metrics, pairs: dict[str, str]) -> Guard | None:
    arms = [a for pair in pairs.items() for a in pair]
    return (sweep_guard(m, arms, LR, metric=ACC, baselines=list(pairs.values()), chance=CHANCE)
            or budget_guard(m, pairs))


def gap(m: Metrics, rps: str, other: str) -> float:
    """Best val/acc of ``rps`` minus that of ``other``, in points."""
    return 100.0 * (best(m, rps, ACC) - best(m, other, ACC))


def beats(baseline: str, label: str):
    """A check: STABLE-RPS's best accuracy above the baseline's at 1/32 and at 1/64."""
    pairs = {"rps_32": f"{baseline}_32", "rps_64": f"{baseline}_64"}

    def check(m: Metrics) -> Verdict:
        g32, g64 = gap(m, "rps_32", pairs["rps_32"]), gap(m, "rps_64", pairs["rps_64"])
        return Verdict(f"val/acc STABLE-RPS - {label}: {g32:+.2f} pt at 1/32, {g64:+.2f} pt at "
                       f"1/64 (paper: > 0 at both)",
                       [above("gap_pt_1_32", g32, 0.0), above("gap_pt_1_64", g64, 0.0)],
                       guard=guards(m, pairs),
                       numbers={f"{a}_acc": best(m, a, ACC) for p in pairs.items() for a in p})
    check.__name__ = f"beats_{baseline}"
    return check


beats_magnitude = beats("agp", "global magnitude pruning")
beats_snip = beats("snip", "SNIP")
beats_narrow = beats("narrow", "narrow dense")


def pareto_continuous(m: Metrics) -> Verdict:
    """Dense best accuracy minus STABLE-RPS-at-1x's, in points: at most 0.5."""
    shortfall = 100.0 * (best(m, "dense", ACC) - best(m, "rps_1", ACC))
    return Verdict(f"val/acc dense - STABLE-RPS at 1x = {shortfall:+.2f} pt (paper: <= "
                   f"{PARETO_GAP})", [at_most("shortfall_pt", shortfall, PARETO_GAP)],
                   guard=sweep_guard(m, ["rps_1", "dense"], LR, metric=ACC,
                                     baselines=["dense"], chance=CHANCE),
                   numbers={"dense_acc": best(m, "dense", ACC),
                            "rps_1_acc": best(m, "rps_1", ACC)})


def arms(baseline: str) -> dict[str, str]:
    return {a: f"configs/{a}.yaml"
            for a in ("rps_32", "rps_64", f"{baseline}_32", f"{baseline}_64")}


CLAIMS = [
    Claim(
        id="stable-rps:beats-magnitude",
        statement="At 1/32 and 1/64 of the linear weights, STABLE-RPS reaches higher accuracy "
                  "than global magnitude pruning keeping the same number of weights",
        source=SOURCE, arms=arms("agp"), check=beats_magnitude, package=__package__,
        seeds=SEEDS, budget_s=600,
    ),
    Claim(
        id="stable-rps:beats-snip",
        statement="At 1/32 and 1/64 of the linear weights, STABLE-RPS reaches higher accuracy "
                  "than SNIP pruning at initialisation keeping the same number of weights",
        source=SOURCE, arms=arms("snip"), check=beats_snip, package=__package__,
        seeds=SEEDS, budget_s=600,
    ),
    Claim(
        id="stable-rps:beats-narrow",
        statement="At 1/32 and 1/64 of the linear weights, STABLE-RPS reaches higher accuracy "
                  "than a narrower dense MLP with no more parameters",
        source=SOURCE, arms=arms("narrow"), check=beats_narrow, package=__package__,
        seeds=SEEDS, budget_s=600,
    ),
    Claim(
        id="stable-rps:pareto-continuous",
        statement="At 1x (no compression) STABLE-RPS recovers the dense MLP's accuracy "
                  "within 0.5 points",
        source="arXiv:2310.11611, Sec. 4 (Pareto-continuity of the RANDOMFOLD map)",
        arms={"rps_1": "configs/rps_1.yaml", "dense": "configs/dense.yaml"},
        check=pareto_continuous, package=__package__, seeds=SEEDS, budget_s=400,
    ),
]
