"""Lion's hidden constraint, checked on a convex problem (multinomial logistic regression on
8x8 digits) where the constrained optimum can be computed exactly.

Each check reports its effects per seed, one per arm and quantity (all must hold); the verdict
comes from the t-interval over seeds (``assay.claims.decide``). Each claim has a premise whose
absence makes it say nothing (VACUOUS): the weights must start well outside the constraint
set, and the box must bind (its optimum above the unconstrained one).
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import Effect, Guard, at_most, between, vacuous

SLACK = 0.01          # relative: max|x| <= (1 + SLACK) / lam, loss within SLACK of optimum
START = 5             # the arms start at 5x the bound
BOX_ARMS = {"lam1": "configs/lion_box_lam1.yaml", "lam3": "configs/lion_box_lam3.yaml",
            "lam10": "configs/lion_box_lam10.yaml"}


def _inside(m: Metrics, arm: str, key: str) -> tuple[list[Effect], str, str]:
    """The end and second-half maximum of the constraint norm over the bound (effects), the
    sentence, and the premise's failure (the run did not start outside) or ''."""
    bound = m[f"{arm}/weights/bound"]
    start, end, late = (m[f"{arm}/weights/{k}"] / bound for k in ("start", key, "late_max"))
    effects = [at_most(f"{arm}_end_ratio", end, 1 + SLACK),
               at_most(f"{arm}_late_ratio", late, 1 + SLACK)]
    outside = start >= START * (1 - SLACK)
    return (effects, f"{arm}: start {start:.2f}, end {end:.4f}, 2nd-half max {late:.4f}",
            "" if outside else f"{arm} started at {start:.2f}x the bound, not outside it")


def _premise(missing: list[str]) -> Guard | None:
    missing = [s for s in missing if s]
    return vacuous("; ".join(missing)) if missing else None


def enters_box(m: Metrics) -> Verdict:
    parts = [_inside(m, arm, "max_abs") for arm in BOX_ARMS]
    return Verdict("; ".join(s for _, s, _ in parts) + f" (x bound; paper: end and 2nd-half max "
                   f"<= {1 + SLACK}, from a start >= {START * (1 - SLACK):g})",
                   [e for effects, _, _ in parts for e in effects],
                   guard=_premise([p for _, _, p in parts]))


def constrained_optimum(m: Metrics) -> Verdict:
    effects, parts, missing = [], [], []
    for arm in BOX_ARMS:
        lion, opt = m[f"{arm}/ref/train_loss"], m[f"{arm}/ref/optimum_loss"]
        free = m[f"{arm}/ref/unconstrained_loss"]
        gap = (lion - opt) / opt
        effects.append(between(f"{arm}_loss_gap", gap, -SLACK, SLACK))
        if not opt > (1 + SLACK) * free:
            missing.append(f"{arm}: the box does not bind (box optimum {opt:.4f}, "
                           f"unconstrained {free:.4f})")
        parts.append(f"{arm}: lion {lion:.4f} vs box optimum {opt:.4f} ({gap:+.2%}), "
                     f"unconstrained {free:.4f}")
    return Verdict("; ".join(parts) + f" (paper: |gap| <= {SLACK:.0%}, with the box optimum "
                                      "above the unconstrained one)", effects,
                   guard=_premise(missing))


def enters_l2_ball(m: Metrics) -> Verdict:
    effects, shown, missing = _inside(m, "l2", "max_l2")
    return Verdict(f"largest tensor l2 norm / bound, {shown} (paper: end and 2nd-half max "
                   f"<= {1 + SLACK}, from a start >= {START * (1 - SLACK):g})", effects,
                   guard=_premise([missing]))


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
