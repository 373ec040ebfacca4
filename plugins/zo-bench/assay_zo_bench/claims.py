"""ZO-Bench's claims at small scale, on a digits MLP (64-32-10, 2.4k weights) trained from
scratch: first-order SGD for 300 steps against zeroth-order trainers given 20x the steps
(one two-point query each, so 40x the forward passes and no backward pass). Each arm picks its
learning rate from its own fixed half-decade grid, per seed, by validation accuracy."""
from __future__ import annotations

from assay import Claim, Metrics, Verdict

ACC = "best/val/acc"
MAX_GAP = 0.05       # "competitive with first-order": at most 5 accuracy points behind


def near_first_order(m: Metrics) -> Verdict:
    fo, zo = m[f"fo/{ACC}"], m[f"zo/{ACC}"]
    gap = fo - zo
    return Verdict(gap <= MAX_GAP,
                   f"val/acc fo-sgd {fo:.3f} - zo-sgd {zo:.3f} = {gap:.3f} (pass: <= {MAX_GAP})",
                   {"acc_gap": gap})


def sign_trails_sgd(m: Metrics) -> Verdict:
    zo, sign = m[f"zo/{ACC}"], m[f"sign/{ACC}"]
    return Verdict(sign < zo,
                   f"val/acc zo-sgd-sign {sign:.3f} vs zo-sgd {zo:.3f} (pass: sign lower)",
                   {"sign_minus_sgd": sign - zo})


CLAIMS = [
    Claim(
        id="zo-bench:near-first-order",
        statement="Forward passes only are enough: ZO-SGD, given 20x the steps of first-order "
                  "SGD, ends within 5 accuracy points of it",
        source="arXiv:2402.11592, Sec. 5, Table 2 (ZO-SGD vs FO-SGD)",
        arms={"fo": "configs/fo_sgd_digits.yaml", "zo": "configs/zo_sgd_digits.yaml"},
        check=near_first_order, package=__package__, budget_s=900,
    ),
    Claim(
        id="zo-bench:sign-trails-sgd",
        statement="Taking the sign of the ZO gradient estimate hurts: ZO-SGD-Sign ends below "
                  "ZO-SGD at the same number of queries",
        source="arXiv:2402.11592, Sec. 5, Table 2 (ZO-SGD-Sign vs ZO-SGD)",
        arms={"zo": "configs/zo_sgd_digits.yaml", "sign": "configs/zo_sign_digits.yaml"},
        check=sign_trails_sgd, package=__package__, budget_s=900,
    ),
]
