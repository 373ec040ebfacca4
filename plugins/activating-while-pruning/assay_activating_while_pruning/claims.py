"""AP's claims at small scale: an MNIST-1D MLP 40-512-512-10 pruned by lottery-ticket IMP over
5 rounds of 45.07% each (densities 0.549, 0.302, 0.166, 0.091, 0.050, so rounds 4 and 5 sit at
~91% and 95% sparsity), each round retrained from the initial weights; with AP (a tenth of
every round's removals chosen by AP) or without (plain IMP, the same trainer with
``ap_share: 0``). The end of every round is recorded: validation accuracy, density, dynamic DNR.

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guard: INVALID when an arm's rounds were not recorded up to round 5,
or its dense round sits at chance.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, above, at_least, diverged, invalid

GAIN_PTS = 1.0            # "AP adds >= 1 pt"
ROUNDS = {"91": 4, "95": 5}   # sparsity level -> the round that reaches it
CHANCE, MARGIN = 0.1, 0.05


def at_round(m: Metrics, arm: str, t: int, name: str) -> float:
    return m.get(f"{arm}/round/{t}/{name}", math.nan)


def recorded_guard(m: Metrics, *arms: str) -> Guard | None:
    for arm in arms:
        missing = [t for t in range(max(ROUNDS.values()) + 1)
                   if not math.isfinite(at_round(m, arm, t, "val_acc"))]
        if missing:
            return invalid(f"{arm}: rounds {missing} not recorded (or not finite)")
        if diverged(at_round(m, arm, 0, "val_acc"), chance=CHANCE, margin=MARGIN):
            return invalid(f"{arm}: the dense round is at chance "
                           f"(val/acc {at_round(m, arm, 0, 'val_acc'):.3f})")
    return None


def ap_raises_accuracy(m: Metrics) -> Verdict:
    stop = recorded_guard(m, "ap", "imp")
    if stop:
        return Verdict(stop.reason, guard=stop)
    effects, parts, numbers = [], [], {}
    for level, t in ROUNDS.items():
        ap, imp = at_round(m, "ap", t, "val_acc"), at_round(m, "imp", t, "val_acc")
        gain = 100 * (ap - imp)
        effects.append(at_least(f"gain_pts_at_{level}", gain, GAIN_PTS))
        parts.append(f"~{level}% sparsity (density {at_round(m, 'imp', t, 'density'):.3f}): "
                     f"AP {ap:.4f}, IMP {imp:.4f}, gain {gain:+.2f} pts")
        numbers.update({f"ap_acc_{level}": ap, f"imp_acc_{level}": imp})
    return Verdict("; ".join(parts) + f" (paper: >= {GAIN_PTS:g} each)", effects,
                   numbers=numbers)


def dnr_falls_with_sparsity(m: Metrics) -> Verdict:
    stop = recorded_guard(m, "imp")
    if stop:
        return Verdict(stop.reason, guard=stop)
    d91, d95 = (at_round(m, "imp", ROUNDS[k], "dnr") for k in ("91", "95"))
    fall = d91 - d95
    return Verdict(f"IMP's dynamic DNR {d91:.4f} at ~91% sparsity, {d95:.4f} at 95%: fall "
                   f"{fall:+.4f} (paper: > 0)", [above("dnr_fall_91_to_95", fall, 0.0)],
                   numbers={"dnr_91": d91, "dnr_95": d95,
                            "dnr_dense": at_round(m, "imp", 0, "dnr")})


AP, IMP = "configs/ap_mnist1d.yaml", "configs/imp_mnist1d.yaml"
# smoke: 6 rounds of 40 steps; the rounds (5) stay, so every check's inputs exist
SMOKE = {"train.steps": 240, "train.eval_every": 40}

CLAIMS = [
    Claim(
        id="activating-while-pruning:ap-raises-accuracy",
        statement="Adding AP to iterative magnitude pruning raises the pruned network's "
                  "accuracy by at least 1 point at ~91% and at 95% sparsity",
        source="arXiv:2212.06145, abstract (AP improves existing pruning methods by 3-4% on "
               "CIFAR) and its IMP-with/without-AP comparisons",
        arms={"ap": AP, "imp": IMP}, check=ap_raises_accuracy, package=__package__, seeds=5,
        budget_s=900, smoke=SMOKE,
    ),
    Claim(
        id="activating-while-pruning:dnr-falls-with-sparsity",
        statement="Along iterative magnitude pruning, the dynamic dead neuron rate during "
                  "training is lower at 95% sparsity than at ~91%",
        source="arXiv:2212.06145, abstract (the more the network is pruned, the smaller the "
               "dynamic DNR during optimization) and its DNR-vs-sparsity figures",
        arms={"imp": IMP}, check=dnr_falls_with_sparsity, package=__package__, seeds=5,
        budget_s=450, smoke=SMOKE,
    ),
]
