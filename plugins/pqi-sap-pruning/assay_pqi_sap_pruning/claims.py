"""SAP's claims at small scale: a digits MLP 64-256-256-10 pruned over 25 lottery-ticket rounds
(each retrained from the initial weights), by SAP (PQI-set ratio) or by IMP (20% per round),
both with one global magnitude threshold. The end of every round is recorded: validation
accuracy, density, and the PQI of the trained weights.

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards: INVALID when an arm's dense round sits at chance or its
rounds were not recorded; NOT-ESTABLISHED when the 25-round budget, not accuracy, is what
stopped the compression being compared (the measured sparsity is then a bound on the wrong
side); VACUOUS when the accuracy never collapsed within the rounds, or collapsed before round 3
(the PQI claim is about the stretch before the collapse).
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_least, diverged, invalid, not_established, vacuous

WITHIN_PTS = 1.0          # "within 1 point of the dense model"
IMP_STEP = math.log(1 / 0.8)   # IMP's densities are 0.8^t: the grid of the compared effect
COLLAPSE_PTS = 10.0       # an accuracy collapse: 10 points below the dense round
MIN_BEFORE = 3            # rounds before the collapse needed to show a fall and then a rise
PQI_CHANGE = 0.01         # a fall or a rise of the PQI (which lies in [0, 1))
CHANCE, MARGIN = 0.1, 0.05


def rounds(m: Metrics, arm: str) -> list[dict[str, float]]:
    """Round t's recorded end (``val_acc``, ``density``, ``pqi``...), t = 0, 1, ..."""
    out, t = [], 0
    while f"{arm}/round/{t}/val_acc" in m:
        prefix = f"{arm}/round/{t}/"
        out.append({k[len(prefix):]: v for k, v in m.items() if k.startswith(prefix)})
        t += 1
    return out


def trained_guard(m: Metrics, *arms: str) -> Guard | None:
    for arm in arms:
        r = rounds(m, arm)
        if not r:
            return invalid(f"{arm}: no pruning round recorded")
        if diverged(r[0]["val_acc"], chance=CHANCE, margin=MARGIN):
            return invalid(f"{arm}: the dense round is at chance (val/acc "
                           f"{r[0]['val_acc']:.3f})")
    return None


def most_compressed(r: list[dict[str, float]]) -> int:
    """The round with the lowest density whose accuracy is within 1 point of the dense
    round's (round 0 always qualifies)."""
    ok = [t for t, x in enumerate(r) if 100 * (r[0]["val_acc"] - x["val_acc"]) <= WITHIN_PTS]
    return min(ok, key=lambda t: r[t]["density"])


def sap_sparser_than_imp(m: Metrics) -> Verdict:
    stop = trained_guard(m, "sap", "imp")
    if stop:
        return Verdict(stop.reason, guard=stop)
    sap, imp = rounds(m, "sap"), rounds(m, "imp")
    ts, ti = most_compressed(sap), most_compressed(imp)
    ds, di = sap[ts]["density"], imp[ti]["density"]
    gain = math.log(di / ds)
    if ti == len(imp) - 1:
        stop = not_established(f"IMP is still within {WITHIN_PTS:g} pt of dense after its "
                               f"last round ({ti}): its compression is a lower bound")
    elif ts == len(sap) - 1 and gain < 0:
        stop = not_established(f"SAP is still within {WITHIN_PTS:g} pt of dense after its "
                               f"last round ({ts}), below IMP's sparsity: a bound")
    return Verdict(f"sparsest round within {WITHIN_PTS:g} pt of dense: SAP {1 - ds:.2%} "
                   f"(round {ts}), IMP {1 - di:.2%} (round {ti}); ln(density IMP/SAP) = "
                   f"{gain:+.3f} (paper: >= 0)",
                   [at_least("log_density_ratio", gain, 0.0, resolution=IMP_STEP)], guard=stop,
                   numbers={"sap_sparsity": 1 - ds, "imp_sparsity": 1 - di,
                            "sap_round": float(ts), "imp_round": float(ti)})


def pqi_falls_then_rises(m: Metrics) -> Verdict:
    stop = trained_guard(m, "imp")
    if stop:
        return Verdict(stop.reason, guard=stop)
    r = rounds(m, "imp")
    fallen = [t for t, x in enumerate(r)
              if 100 * (r[0]["val_acc"] - x["val_acc"]) >= COLLAPSE_PTS]
    if not fallen:
        stop = vacuous(f"accuracy never fell {COLLAPSE_PTS:g} pts below dense in {len(r) - 1} "
                       f"rounds: no collapse to precede")
    c = fallen[0] if fallen else len(r)
    if fallen and c < MIN_BEFORE:
        stop = vacuous(f"accuracy collapsed at round {c}: fewer than {MIN_BEFORE} rounds "
                       f"before it to fall and rise in")
    pqi = [x["pqi"] for x in r[:c]]
    low, high = fall_then_rise(pqi)
    fall, rise = pqi[0] - pqi[low], pqi[high] - pqi[low]
    return Verdict(f"IMP's PQI {pqi[0]:.4f} at dense, falls to {pqi[low]:.4f} (round {low}), "
                   f"rises to {pqi[high]:.4f} (round {high}), before the collapse at round {c}: "
                   f"fall {fall:.4f}, rise {rise:.4f} (paper: both; here >= {PQI_CHANGE})",
                   [at_least("pqi_fall", fall, PQI_CHANGE), at_least("pqi_rise", rise, PQI_CHANGE)],
                   guard=stop, numbers={"collapse_round": float(c), "low_round": float(low),
                                        "high_round": float(high)})


def fall_then_rise(pqi: list[float]) -> tuple[int, int]:
    """Rounds ``(s, t)``, s <= t, of the clearest fall-then-rise: the pair maximising the
    smaller of the fall from round 0 to s and the rise from s to t. A later second fall (the
    paper's third phase) does not hide it."""
    pairs = [(s, t) for s in range(len(pqi)) for t in range(s, len(pqi))]
    return max(pairs, key=lambda st: min(pqi[0] - pqi[st[0]], pqi[st[1]] - pqi[st[0]]))


SAP, IMP = "configs/sap_digits.yaml", "configs/imp_digits.yaml"
SMOKE = {"train.steps": 20, "train.eval_every": 10, "methods.trainer.rounds": 3}

CLAIMS = [
    Claim(
        id="pqi-sap-pruning:sap-sparser-than-imp",
        statement="Within the same number of prune-retrain rounds, SAP's sparsest model within "
                  "1 point of the dense accuracy is at least as sparse as that of iterative "
                  "magnitude pruning at 20% per round",
        source="arXiv:2302.05601, abstract (SAP beats lottery-ticket iterative pruning in "
               "compression efficiency) and its SAP-vs-IMP comparisons",
        arms={"sap": SAP, "imp": IMP}, check=sap_sparser_than_imp, package=__package__,
        budget_s=240, smoke=SMOKE,
    ),
    Claim(
        id="pqi-sap-pruning:pqi-falls-then-rises",
        statement="Along iterative magnitude pruning, the PQ Index of the trained weights first "
                  "falls and then rises again before the accuracy collapses",
        source="arXiv:2302.05601, abstract (the PQI hypothesis: decrease while the model is "
               "regularised, increase at the compressibility limit, before the collapse)",
        arms={"imp": IMP}, check=pqi_falls_then_rises, package=__package__, budget_s=120,
        smoke=SMOKE,
    ),
]
