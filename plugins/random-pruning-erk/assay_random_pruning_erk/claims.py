"""Random pruning's claims at small scale, on digits MLPs (depth 2), 1200 AdamW steps.

Every sparse arm draws its random mask at initialisation and keeps it; the dense arms are the
same runs as the AGP plugin's dense arms (identical configs, so one run serves both).

Each check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). A dense (or uniform) baseline that diverged or never left chance
would make the comparison meaningless, so such a seed returns the INVALID guard instead.
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, above, at_least, at_most, baseline_guard

MATCH_PTS = 1.0       # "matches its dense equivalent": within 1 point of val accuracy
BOOST_PTS = 1.0       # "an important performance booster": ERK ahead of uniform by >= 1 point
CHANCE = 0.1          # 10 digit classes
CHANCE_MARGIN = 0.05  # a baseline within 5 points of chance has not trained


def guard(m: Metrics, *arms: str) -> Guard | None:
    """INVALID when a baseline arm's val/acc is missing (diverged before its first
    evaluation), not finite, or within CHANCE_MARGIN of chance."""
    return baseline_guard(m, arms, chance=CHANCE, margin=CHANCE_MARGIN)


def matches_dense(m: Metrics) -> Verdict:
    gap = 100 * (m["dense/val/acc"] - m["erk50/val/acc"])
    return Verdict(f"val acc dense - ERK 50% random = {gap:+.2f} pts (paper: <= {MATCH_PTS})",
                   [at_most("gap_pts", gap, MATCH_PTS)], guard=guard(m, "dense"),
                   numbers={"gap_pts": gap})


def erk_beats_uniform(m: Metrics) -> Verdict:
    gain = 100 * (m["erk95/val/acc"] - m["uniform95/val/acc"])
    return Verdict(f"val acc ERK - uniform at 95% sparsity = {gain:+.2f} pts "
                   f"(paper: >= {BOOST_PTS})", [at_least("gain_pts", gain, BOOST_PTS)],
                   guard=guard(m, "uniform95"), numbers={"gain_pts": gain})


def gap_shrinks_with_width(m: Metrics) -> Verdict:
    narrow = 100 * (m["dense64/val/acc"] - m["erk90_w64/val/acc"])
    wide = 100 * (m["dense/val/acc"] - m["erk90/val/acc"])
    return Verdict(f"dense - ERK 90% random gap: width 64 {narrow:+.2f} pts, width 256 "
                   f"{wide:+.2f} pts (paper: smaller at width 256)",
                   [above("gap_shrink_pts", narrow - wide, 0.0)],
                   guard=guard(m, "dense64", "dense"),
                   numbers={"gap_w64_pts": narrow, "gap_w256_pts": wide})


CLAIMS = [
    Claim(
        id="random-pruning-erk:matches-dense",
        statement="A network randomly pruned to 50% at initialisation with ERK densities and "
                  "trained sparse reaches its dense equivalent's accuracy (within 1 point)",
        source="arXiv:2202.02643, abstract; Sec. 4 (CIFAR results across sparsities)",
        arms={"dense": "configs/dense_digits.yaml", "erk50": "configs/erk50_digits.yaml"},
        check=matches_dense, package=__package__, budget_s=240,
    ),
    Claim(
        id="random-pruning-erk:erk-beats-uniform",
        statement="At 95% sparsity, random masks with ERK layer densities train to at least 1 "
                  "point higher accuracy than random masks with the same density in every layer",
        source="arXiv:2202.02643, abstract (factor ii); Sec. 3-4 (layer-wise sparsity ratios)",
        arms={"erk95": "configs/erk95_digits.yaml",
              "uniform95": "configs/uniform95_digits.yaml"},
        check=erk_beats_uniform, package=__package__, budget_s=240,
    ),
    Claim(
        id="random-pruning-erk:gap-shrinks-with-width",
        statement="The accuracy lost by training a 90%-random-sparse network instead of the "
                  "dense one is smaller for a wider network (width 256 vs 64)",
        source="arXiv:2202.02643, abstract (factor i); Sec. 4 (wider and deeper networks)",
        arms={"dense": "configs/dense_digits.yaml", "erk90": "configs/erk90_digits.yaml",
              "dense64": "configs/dense_w64_digits.yaml",
              "erk90_w64": "configs/erk90_w64_digits.yaml"},
        check=gap_shrinks_with_width, package=__package__, budget_s=300,
    ),
]
