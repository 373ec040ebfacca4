"""AGP's claims at small scale, on a digits MLP (64-256-256-10), 1200 AdamW steps.

Three arms: the large dense MLP, the same MLP pruned to 90% with AGP, and a small dense MLP
(width 64) with exactly as many parameters as the pruned one has nonzero ones (8,970).

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). A baseline arm that diverged or never left chance would make any
comparison with it meaningless, so such a seed returns the INVALID guard instead of a number
to average.
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, above, at_least, at_most, baseline_guard

# The abstract promises "up to 10x fewer nonzero parameters with minimal loss in accuracy";
# we read "minimal" as at most 2 points of accuracy at 90% sparsity (10x fewer weights).
MAX_DROP_PTS = 2.0
FAIR_NONZERO = 1.01        # the sparse arm may keep at most 1% more nonzero parameters
MIN_SPARSITY = 0.895       # the sparse arm must reach its 90% target
CHANCE = 0.1               # 10 digit classes
CHANCE_MARGIN = 0.05       # a baseline within 5 points of chance has not trained


def guard(m: Metrics, *arms: str) -> Guard | None:
    """INVALID when a baseline arm's val/acc is missing (diverged before its first
    evaluation), not finite, or within CHANCE_MARGIN of chance."""
    return baseline_guard(m, arms, chance=CHANCE, margin=CHANCE_MARGIN)


def nonzero_params(m: Metrics, arm: str) -> float:
    """Nonzero parameters of ``arm``: a pruned run reports them; a dense one has all its
    parameters nonzero (so a dense arm in the sparse arm's place still compares fairly)."""
    key = f"{arm}/sparsity/nonzero_params"
    return m[key] if key in m else m[f"{arm}/cost/params"]


def large_sparse_beats_small_dense(m: Metrics) -> Verdict:
    gain = 100 * (m["sparse90/val/acc"] - m["small/val/acc"])
    nnz, small = nonzero_params(m, "sparse90"), m["small/cost/params"]
    return Verdict(f"val acc large-sparse - small-dense = {gain:+.2f} pts (paper: > 0); "
                   f"nonzero params {nnz:.0f} vs {small:.0f} (must match within 1%)",
                   [above("gain_pts", gain, 0.0),
                    at_most("nonzero_ratio", nnz / small, FAIR_NONZERO)],
                   guard=guard(m, "small"),
                   numbers={"gain_pts": gain, "nonzero_sparse": nnz, "params_small": small})


def minimal_loss_at_90(m: Metrics) -> Verdict:
    drop = 100 * (m["dense/val/acc"] - m["sparse90/val/acc"])
    reached = m["sparse90/sparsity/actual"]
    return Verdict(f"val acc dense - 90%-sparse = {drop:+.2f} pts (paper: <= {MAX_DROP_PTS}); "
                   f"sparsity reached {reached:.4f} (must be 0.9)",
                   [at_most("drop_pts", drop, MAX_DROP_PTS),
                    at_least("sparsity", reached, MIN_SPARSITY)],
                   guard=guard(m, "dense"),
                   numbers={"drop_pts": drop, "sparsity": reached})


ARMS = {"dense": "configs/dense_digits.yaml", "sparse90": "configs/sparse90_digits.yaml",
        "small": "configs/small_dense_digits.yaml"}

CLAIMS = [
    Claim(
        id="agp-gradual-pruning:large-sparse-beats-small-dense",
        statement="A large network pruned gradually to 90% sparsity is more accurate than a "
                  "small dense network with the same number of nonzero parameters",
        source="arXiv:1710.01878, abstract; Sec. 4 (large-sparse vs small-dense comparisons)",
        arms={"sparse90": ARMS["sparse90"], "small": ARMS["small"]},
        check=large_sparse_beats_small_dense, package=__package__, budget_s=240,
    ),
    Claim(
        id="agp-gradual-pruning:minimal-loss-at-90",
        statement="Pruning gradually to 90% sparsity costs at most 2 points of validation "
                  "accuracy against the same network trained dense",
        source="arXiv:1710.01878, abstract; Sec. 4 (results tables)",
        arms={"dense": ARMS["dense"], "sparse90": ARMS["sparse90"]},
        check=minimal_loss_at_90, package=__package__, budget_s=240,
    ),
]
