"""The generalization-mystery claims at small scale, on 8x8 digits with a 64-256-10 MLP and
plain SGD (lr 0.1, batch 128).

- real-more-coherent: alpha_m (m = 128, one fixed sample of training examples) averaged over
  steps 0, 10, ..., 200 is at least 3 times higher with the true labels than with random ones.
- m3-suppresses-memorisation: with 50% of the training labels flipped, median-of-3-means steps
  fit at least 20 points fewer of the flipped examples than plain SGD steps after 4000 steps,
  at a cost of at most 2 points of clean validation accuracy.

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards: INVALID when the baseline diverged or never left chance
(the true-label run for the first claim, plain SGD for the second), or a coherence is not a
positive number; VACUOUS for the second claim when plain SGD fits fewer than 20% of the flipped
examples (there is not 20 points of memorisation to suppress).
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_least, at_most, baseline_guard, invalid, vacuous

MIN_RATIO = 3.0            # "very different values on real and random datasets": >= 3x
MIN_MEMO_DROP_PTS = 20.0   # M3 fits >= 20 points fewer flipped examples ...
MAX_CLEAN_COST_PTS = 2.0   # ... and loses <= 2 points of clean validation accuracy
CHANCE, MARGIN = 0.1, 0.05


def trained(m: Metrics, arm: str, what: str) -> Guard | None:
    """INVALID when ``arm`` (``what``, for the reader) diverged or sits at chance."""
    return baseline_guard(m, [arm], chance=CHANCE, margin=MARGIN)


def real_more_coherent(m: Metrics) -> Verdict:
    stop = trained(m, "true", "the true-label run")
    real, rand = m.get("true/coherence/mean", math.nan), m.get("random/coherence/mean", math.nan)
    if stop is None and not (real > 0 and rand > 0):
        stop = invalid(f"alpha_m is not a positive number: true {real}, random {rand}")
    if stop is not None:
        return Verdict(stop.reason, guard=stop)
    ratio = real / rand
    return Verdict(f"alpha_m (m = {m.get('true/coherence/m', math.nan):.0f}) averaged over the "
                   f"first steps: true labels {real:.2f}, random labels {rand:.2f}; ratio "
                   f"{ratio:.2f} (paper: >= {MIN_RATIO})",
                   [at_least("coherence_ratio", ratio, MIN_RATIO)],
                   numbers={"alpha_true": real, "alpha_random": rand,
                            "alpha_true_step0": m.get("true/coherence/alpha_m/0", math.nan),
                            "alpha_random_step0": m.get("random/coherence/alpha_m/0", math.nan)})


def m3_suppresses_memorisation(m: Metrics) -> Verdict:
    stop = trained(m, "sgd", "plain SGD (the baseline)")
    if stop is not None:
        return Verdict(stop.reason, guard=stop)
    memo_sgd, memo_m3 = m["sgd/memo/flipped_fit"], m["m3/memo/flipped_fit"]
    drop = 100 * (memo_sgd - memo_m3)
    cost = 100 * (m["sgd/val/acc"] - m["m3/val/acc"])
    if 100 * memo_sgd < MIN_MEMO_DROP_PTS:
        stop = vacuous(f"plain SGD fits only {memo_sgd:.1%} of the flipped examples: less "
                       f"memorisation than the {MIN_MEMO_DROP_PTS:.0f} points to suppress")
    return Verdict(f"flipped examples fitted: SGD {memo_sgd:.1%}, M3 {memo_m3:.1%} (drop "
                   f"{drop:.1f} pts, paper: >= {MIN_MEMO_DROP_PTS:.0f}); clean val/acc SGD "
                   f"{m['sgd/val/acc']:.4f}, M3 {m['m3/val/acc']:.4f} (cost {cost:+.2f} pts, "
                   f"<= {MAX_CLEAN_COST_PTS:.0f})",
                   [at_least("memo_drop_pts", drop, MIN_MEMO_DROP_PTS),
                    at_most("clean_cost_pts", cost, MAX_CLEAN_COST_PTS)], guard=stop,
                   numbers={"memo_sgd": memo_sgd, "memo_m3": memo_m3,
                            "clean_fit_sgd": m["sgd/memo/clean_fit"],
                            "clean_fit_m3": m["m3/memo/clean_fit"]})


CLAIMS = [
    Claim(
        id="coherent-gradients:real-more-coherent",
        statement="Over the first 200 SGD steps, the m-coherence of per-example gradients of a "
                  "digits MLP is at least 3 times higher with the true labels than with random "
                  "labels",
        source="arXiv:2203.10036, Sec. 4-5 (the coherence metric; real vs random datasets)",
        arms={"true": "configs/true_digits.yaml", "random": "configs/random_digits.yaml"},
        check=real_more_coherent, package=__package__, seeds=3, max_seeds=7, budget_s=120,
    ),
    Claim(
        id="coherent-gradients:m3-suppresses-memorisation",
        statement="With 50% of the training labels flipped, median-of-3-means steps fit at "
                  "least 20 points fewer of the flipped examples than plain SGD steps, at a "
                  "cost of at most 2 points of clean validation accuracy",
        source="arXiv:2203.10036, the modifications to GD that suppress weak directions "
               "(median of means); M3 from arXiv:2003.07422",
        arms={"sgd": "configs/sgd_noisy.yaml", "m3": "configs/m3_noisy.yaml"},
        check=m3_suppresses_memorisation, package=__package__, seeds=3, max_seeds=7,
        budget_s=300,
    ),
]
