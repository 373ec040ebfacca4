"""AGP's claims at small scale, on a digits MLP (64-256-256-10), 1200 AdamW steps.

Three arms: the large dense MLP, the same MLP pruned to 90% with AGP, and a small dense MLP
(width 64) with exactly as many parameters as the pruned one has nonzero ones (8,970).
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict

# The abstract promises "up to 10x fewer nonzero parameters with minimal loss in accuracy";
# we read "minimal" as at most 2 points of accuracy at 90% sparsity (10x fewer weights).
MAX_DROP_PTS = 2.0


def large_sparse_beats_small_dense(m: Metrics) -> Verdict:
    gain = 100 * (m["sparse90/val/acc"] - m["small/val/acc"])
    nnz, small = m["sparse90/sparsity/nonzero_params"], m["small/cost/params"]
    fair = nnz <= small * 1.01
    return Verdict(gain > 0 and fair,
                   f"val acc large-sparse - small-dense = {gain:+.2f} pts (pass: > 0); "
                   f"nonzero params {nnz:.0f} vs {small:.0f} (must match within 1%)",
                   {"gain_pts": gain, "nonzero_sparse": nnz, "params_small": small})


def minimal_loss_at_90(m: Metrics) -> Verdict:
    drop = 100 * (m["dense/val/acc"] - m["sparse90/val/acc"])
    reached = m["sparse90/sparsity/actual"]
    return Verdict(drop <= MAX_DROP_PTS and reached >= 0.895,
                   f"val acc dense - 90%-sparse = {drop:+.2f} pts (pass: <= {MAX_DROP_PTS}); "
                   f"sparsity reached {reached:.4f} (must be 0.9)",
                   {"drop_pts": drop, "sparsity": reached})


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
