"""Loki's claims at small scale: a linear classifier trained on 5 of the 20 bins of an ordinal
task, scored on test points from all 20 bins, with argmax and with Loki's Frechet-mean rule
applied to the same outputs (one run per seed gives both, so the comparison is paired).

Effects per seed, decided by the t-interval over seeds (``assay.claims.decide``):

- lowers-distance: the relative cut in mean squared label distance, 1 - MSD_loki / MSD_argmax;
- predicts-unseen: the share of test points from never-observed bins that Loki names exactly
  (argmax names none of them by construction; its share is recorded alongside).

Guards: INVALID when the classifier never learned the observed bins (in-distribution
validation accuracy at chance among the 5 observed bins, or not finite); VACUOUS when the
test split holds no label outside the observed ones (nothing unseen to predict).
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_least, diverged, invalid, vacuous

MIN_REDUCTION = 0.30       # "lowers mean squared label distance by >= 30%"
MIN_UNSEEN_EXACT = 0.20    # "predicts the exact unseen bin for >= 20% of its points"
CHANCE, MARGIN = 1 / 5, 0.05
ARM = "ordinal"


def guard(m: Metrics) -> Guard | None:
    acc = m.get(f"{ARM}/val/acc", float("nan"))
    if diverged(acc, chance=CHANCE, margin=MARGIN):
        return invalid(f"the classifier is at chance on the observed bins or diverged: "
                       f"val/acc {acc:.3f}")
    if not m.get(f"{ARM}/loki/n_unseen", 0.0) > 0:
        return vacuous("the test split has no example from an unobserved bin")
    return None


def lowers_distance(m: Metrics) -> Verdict:
    stop = guard(m)
    if stop is not None:
        return Verdict(stop.reason, guard=stop)
    loki, base = m[f"{ARM}/loki/msd"], m[f"{ARM}/argmax/msd"]
    reduction = 1 - loki / base
    return Verdict(f"mean squared label distance: argmax {base:.3f}, Loki {loki:.3f}; cut "
                   f"{reduction:.1%} (paper: >= {MIN_REDUCTION:.0%})",
                   [at_least("msd_reduction", reduction, MIN_REDUCTION)],
                   numbers={"msd_argmax": base, "msd_loki": loki,
                            "acc_argmax": m[f"{ARM}/argmax/acc"],
                            "acc_loki": m[f"{ARM}/loki/acc"]})


def predicts_unseen(m: Metrics) -> Verdict:
    stop = guard(m)
    if stop is not None:
        return Verdict(stop.reason, guard=stop)
    loki, base = m[f"{ARM}/loki/unseen_exact"], m[f"{ARM}/argmax/unseen_exact"]
    return Verdict(f"exact on unobserved bins: Loki {loki:.3f}, argmax {base:.3f} (paper: "
                   f"Loki >= {MIN_UNSEEN_EXACT}); Loki names an unobserved bin for "
                   f"{m[f'{ARM}/loki/unseen_share']:.1%} of all test points",
                   [at_least("unseen_exact", loki, MIN_UNSEEN_EXACT)],
                   numbers={"unseen_exact_argmax": base,
                            "unseen_share_loki": m[f"{ARM}/loki/unseen_share"]})


ARMS = {ARM: "configs/ordinal.yaml"}

CLAIMS = [
    Claim(
        id="loki-frechet:lowers-distance",
        statement="On a 20-bin ordinal task trained on 5 of its bins, replacing argmax by the "
                  "Frechet mean of the observed classes under the label metric |i - j| cuts "
                  "the test mean squared label distance over all bins by at least 30%",
        source="arXiv:2307.12226, abstract and Sec. 3 (the Frechet-mean prediction rule and "
               "its gains over argmax when few classes are observed)",
        arms=ARMS, check=lowers_distance, package=__package__, seeds=5, budget_s=120,
    ),
    Claim(
        id="loki-frechet:predicts-unseen",
        statement="With the same model, the Frechet-mean rule names the exact bin for at "
                  "least 20% of the test points whose bin was never observed in training "
                  "(argmax can name none)",
        source="arXiv:2307.12226, abstract and Sec. 4 (predicting classes never observed in "
               "training)",
        arms=ARMS, check=predicts_unseen, package=__package__, seeds=5, budget_s=120,
    ),
]
