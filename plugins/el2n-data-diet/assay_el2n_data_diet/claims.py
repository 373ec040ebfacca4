"""Data-diet claims on 8x8 digits (MLP 128x2): scores found early in training pick out
noisy labels, and a score-pruned half trains at least as well as a random half."""
from __future__ import annotations

from collections.abc import Callable

from assay import Claim, Metrics, Verdict

MIN_NOISE_PRECISION = 0.5   # 5x the 10% a random ranking gets


def flags_noisy_labels(m: Metrics) -> Verdict:
    precision, rate = m["noisy/data/noise_precision"], m["noisy/data/noise_rate"]
    return Verdict(precision >= MIN_NOISE_PRECISION,
                   f"flipped labels among the top-{rate:.0%} EL2N scores: {precision:.1%} "
                   f"(random ranking: {rate:.0%}; pass: >= {MIN_NOISE_PRECISION:.0%})",
                   {"noise_precision": precision})


def _beats_random(arm: str) -> Callable[[Metrics], Verdict]:
    def check(m: Metrics) -> Verdict:
        ours, rand = m[f"{arm}/val/acc"], m["random/val/acc"]
        # accuracies are whole examples out of the same val set: equal means a tie, which
        # passes (the tolerance only absorbs float rounding of seed means)
        return Verdict(ours >= rand - 1e-9, f"val/acc with the {arm} half {ours:.4f} vs a random half "
                                     f"{rand:.4f} (pass: {arm} >= random)",
                       {"acc_gain": ours - rand})
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
