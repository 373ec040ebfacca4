"""Lion's hidden constraint, checked on a convex problem (multinomial logistic regression on
8x8 digits) where the constrained optimum can be computed exactly."""
from __future__ import annotations

from assay import Claim, Metrics, Verdict

SLACK = 0.01          # relative: max|x| <= (1 + SLACK) / lam, loss within SLACK of optimum
BOX_ARMS = {"lam1": "configs/lion_box_lam1.yaml", "lam3": "configs/lion_box_lam3.yaml",
            "lam10": "configs/lion_box_lam10.yaml"}


def _inside(m: Metrics, arm: str, key: str) -> tuple[bool, str]:
    bound = m[f"{arm}/weights/bound"]
    start, end, late = (m[f"{arm}/weights/{k}"] / bound for k in ("start", key, "late_max"))
    ok = start >= 5 * (1 - SLACK) and end <= 1 + SLACK and late <= 1 + SLACK
    return ok, f"{arm}: start {start:.2f}, end {end:.4f}, 2nd-half max {late:.4f}"


def enters_box(m: Metrics) -> Verdict:
    parts = [_inside(m, arm, "max_abs") for arm in BOX_ARMS]
    return Verdict(all(ok for ok, _ in parts),
                   "; ".join(s for _, s in parts) + f" (x bound; pass: start >= 4.95, end and "
                   f"2nd-half max <= {1 + SLACK})",
                   {f"{arm}_end_ratio": m[f"{arm}/weights/max_abs"] / m[f"{arm}/weights/bound"]
                    for arm in BOX_ARMS})


def constrained_optimum(m: Metrics) -> Verdict:
    numbers, parts, ok = {}, [], True
    for arm in BOX_ARMS:
        lion, opt = m[f"{arm}/ref/train_loss"], m[f"{arm}/ref/optimum_loss"]
        free = m[f"{arm}/ref/unconstrained_loss"]
        gap = (lion - opt) / opt
        ok &= abs(gap) <= SLACK and opt > (1 + SLACK) * free
        numbers[f"{arm}_loss_gap"] = gap
        parts.append(f"{arm}: lion {lion:.4f} vs box optimum {opt:.4f} ({gap:+.2%}), "
                     f"unconstrained {free:.4f}")
    return Verdict(ok, "; ".join(parts) + f" (pass: |gap| <= {SLACK:.0%} and box optimum above "
                                          "the unconstrained one)", numbers)


def enters_l2_ball(m: Metrics) -> Verdict:
    ok, shown = _inside(m, "l2", "max_l2")
    return Verdict(ok, f"largest tensor l2 norm / bound, {shown} (pass: start >= 4.95, end and "
                       f"2nd-half max <= {1 + SLACK})",
                   {"end_ratio": m["l2/weights/max_l2"] / m["l2/weights/bound"]})


CLAIMS = [
    Claim(
        id="lion-lyapunov:enters-box",
        statement="Lion with decoupled weight decay lam, started at max|x| = 5/lam, brings every "
                  "weight inside |x| <= 1/lam (within 1%) and keeps it there, for lam = 1, 3, 10",
        source="arXiv:2310.05898, abstract and main result (phase 1: decay into the constraint "
               "set; the box ||x||_inf <= 1/lam for Lion)",
        arms=BOX_ARMS, check=enters_box, package=__package__, budget_s=600,
        smoke={"train.steps": 20, "train.eval_every": 10},
    ),
    Claim(
        id="lion-lyapunov:constrained-optimum",
        statement="On a convex problem whose unconstrained optimum lies outside the box, Lion with "
                  "decay lam ends within 1% of the loss of the box-constrained optimum "
                  "(||x||_inf <= 1/lam, solved by L-BFGS-B), for lam = 1, 3, 10",
        source="arXiv:2310.05898, abstract and main result (phase 2: Lion minimises f inside the "
               "box)",
        arms=BOX_ARMS, check=constrained_optimum, package=__package__, budget_s=600,
        smoke={"train.steps": 20, "train.eval_every": 10},
    ),
    Claim(
        id="lion-lyapunov:l2-ball",
        statement="Lion-K with K = per-tensor l2 norm and decay lam, started with tensor norms "
                  "5/lam, brings every tensor inside ||x_T||_2 <= 1/lam (within 1%) and keeps it "
                  "there",
        source="arXiv:2310.05898, Lion-K family (K = l2 norm gives an l2-ball constraint)",
        arms={"l2": "configs/lion_ball_l2.yaml"}, check=enters_l2_ball, package=__package__,
        budget_s=300, smoke={"train.steps": 20, "train.eval_every": 10},
    ),
]
