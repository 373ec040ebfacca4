"""Data-diet claims on 8x8 digits (MLP 128x2): scores found early in training pick out
noisy labels, and a score-pruned half trains at least as well as a random half.

Each check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards: INVALID when the random-half baseline never trained;
VACUOUS when the noisy arm has no flipped labels to find.
"""
from __future__ import annotations

import math
from collections.abc import Callable

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_least, diverged, invalid, vacuous

MIN_NOISE_PRECISION = 0.5   # 5x the 10% a random ranking gets
# accuracies are whole examples out of the same val set: equal means a tie, which passes (the
# tolerance only absorbs float rounding)
TIE_TOLERANCE = 1e-9
CHANCE = 0.1                # 10 digit classes
CHANCE_MARGIN = 0.05        # a random half within 5 points of chance has not trained


def flags_noisy_labels(m: Metrics) -> Verdict:
    rate = m.get("noisy/data/noise_rate", 0.0)
    if not rate:
        return Verdict("no training label was flipped: nothing for the scores to find",
                       guard=vacuous("no flipped labels in the noisy arm's training set"))
    precision = m["noisy/data/noise_precision"]
    return Verdict(f"flipped labels among the top-{rate:.0%} EL2N scores: {precision:.1%} "
                   f"(random ranking: {rate:.0%}; paper: >= {MIN_NOISE_PRECISION:.0%})",
                   [at_least("noise_precision", precision, MIN_NOISE_PRECISION)],
                   numbers={"noise_precision": precision})


def random_half_guard(m: Metrics) -> Guard | None:
    """INVALID when the random half (the baseline) diverged or sits at chance."""
    acc = m.get("random/val/acc", math.nan)
    if diverged(acc, chance=CHANCE, margin=CHANCE_MARGIN):
        return invalid(f"random-half baseline at chance or diverged: val/acc {acc:.3f}")
    return None


def _beats_random(arm: str) -> Callable[[Metrics], Verdict]:
    def check(m: Metrics) -> Verdict:
        ours, rand = m[f"{arm}/val/acc"], m["random/val/acc"]
        return Verdict(f"val/acc with the {arm} half {ours:.4f} vs a random half {rand:.4f} "
                       f"(paper: {arm} >= random)",
                       [at_least("acc_gain", ours - rand, -TIE_TOLERANCE)],
                       guard=random_half_guard(m), numbers={"acc_gain": ours - rand})
    check.__name__ = f"{arm}_beats_random"
    return check


el2n_beats_random = _beats_random("el2n")
grand_beats_random = _beats_random("grand")

CLAIMS = [
    Claim(
        id="el2n-data-diet:flags-noisy-labels",
        statement="With 10% of labels flipped, at least half of the 10% highest-EL2N examples "
                  "(scored after 3 epochs, averaged over 4 probes) are the flipped ones",
        source="arXiv:2107.07075, label-noise experiments (highest scores are mostly noisy)",
        arms={"noisy": "configs/noisy_digits.yaml"}, check=flags_noisy_labels,
        package=__package__, budget_s=120,
        smoke={"train.steps": 10, "train.eval_every": 5, "methods.data.probe_epochs": 0.5},
    ),
    Claim(
        id="el2n-data-diet:el2n-beats-random",
        statement="Keeping the highest-EL2N half of the training set gives validation accuracy "
                  "at least that of a random half of the same size",
        source="arXiv:2107.07075, Sec. 4, Fig. 1 (CIFAR-10, 50% pruned)",
        arms={"el2n": "configs/el2n_half.yaml", "random": "configs/random_half.yaml"},
        check=el2n_beats_random, package=__package__, budget_s=180,
        smoke={"train.steps": 10, "train.eval_every": 5, "methods.data.probe_epochs": 0.5},
    ),
    Claim(
        id="el2n-data-diet:grand-beats-random",
        statement="Keeping the highest-GraNd half, scored at initialisation over 10 probes, "
                  "gives validation accuracy at least that of a random half",
        source="arXiv:2107.07075, Sec. 4, Fig. 1 (GraNd at initialisation)",
        arms={"grand": "configs/grand_half.yaml", "random": "configs/random_half.yaml"},
        check=grand_beats_random, package=__package__, budget_s=180,
        smoke={"train.steps": 10, "train.eval_every": 5, "methods.data.n_probes": 2},
    ),
]
