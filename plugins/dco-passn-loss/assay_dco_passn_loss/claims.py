"""DCO's claims at small scale: 8x8 digits with 30% of the training labels wrong, a 256x2 MLP
trained far past its best epoch (6000 steps, ~270 epochs, constant rate, no weight decay). The
softmax is the sampling policy; pass@16 on the clean validation labels, 1 - (1 - p(y|x))^16, is
measured exactly every 100 steps, and its peak and final values are compared.

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards: INVALID when an arm's final validation accuracy is not
finite or at chance (10 digits); VACUOUS for the rescue claim when cross-entropy's pass@16
never fell (no misalignment to rescue).
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_least, at_most, diverged, invalid, vacuous

CE_DROP_PTS = 5.0       # "pass@N decreases with longer training": at least 5 points
GAIN_PTS = 5.0          # DCO ends at least 5 points above cross-entropy
DCO_DROP_PTS = 1.0      # ... and within 1 point of its own peak
PREMISE_PTS = 1.0       # a cross-entropy drop below 1 point leaves nothing to rescue
CHANCE, MARGIN = 0.1, 0.05


def drop_pts(m: Metrics, arm: str) -> float:
    """Points pass@16 lost between its peak and the end of training."""
    return 100 * (m[f"{arm}/passn/peak"] - m[f"{arm}/passn/final"])


def trained_guard(m: Metrics, *arms: str) -> Guard | None:
    """INVALID when an arm never trained (accuracy at chance, or not finite) or did not record
    its pass@N curve."""
    for arm in arms:
        acc = m.get(f"{arm}/val/acc", float("nan"))
        if diverged(acc, chance=CHANCE, margin=MARGIN):
            return invalid(f"{arm}: final val/acc {acc:.3f} (chance {CHANCE})")
        if f"{arm}/passn/peak" not in m:
            return invalid(f"{arm}: no pass@N recorded (is its loss dco-passn-loss?)")
    return None


def ce_pass_at_n_falls(m: Metrics) -> Verdict:
    guard = trained_guard(m, "ce")
    if guard:
        return Verdict(guard.reason, guard=guard)
    drop = drop_pts(m, "ce")
    return Verdict(f"cross-entropy pass@16: peak {m['ce/passn/peak']:.4f} at step "
                   f"{m['ce/passn/peak_step']:.0f}, final {m['ce/passn/final']:.4f}; drop "
                   f"{drop:.2f} pts (paper: falls; here >= {CE_DROP_PTS})",
                   [at_least("ce_drop_pts", drop, CE_DROP_PTS)],
                   numbers={"ce_drop_pts": drop, "ce_val_acc": m["ce/val/acc"]})


def dco_keeps_pass_at_n(m: Metrics) -> Verdict:
    guard = trained_guard(m, "dco", "ce")
    if guard:
        return Verdict(guard.reason, guard=guard)
    gain = 100 * (m["dco/passn/final"] - m["ce/passn/final"])
    own_drop, ce_drop = drop_pts(m, "dco"), drop_pts(m, "ce")
    if ce_drop < PREMISE_PTS:
        guard = vacuous(f"cross-entropy's pass@16 fell only {ce_drop:.2f} pts from its peak: "
                        f"no misalignment to rescue")
    return Verdict(f"final pass@16 dco - ce = {gain:+.2f} pts (paper: >= {GAIN_PTS}); dco's "
                   f"drop from its peak {own_drop:.2f} pts (<= {DCO_DROP_PTS}); ce's drop "
                   f"{ce_drop:.2f} pts",
                   [at_least("gain_pts", gain, GAIN_PTS),
                    at_most("dco_drop_pts", own_drop, DCO_DROP_PTS)], guard=guard,
                   numbers={"gain_pts": gain, "dco_drop_pts": own_drop, "ce_drop_pts": ce_drop,
                            "val_acc_gain": m["dco/val/acc"] - m["ce/val/acc"]})


CE = "configs/ce_noisy_digits.yaml"
DCO = "configs/dco_noisy_digits.yaml"

CLAIMS = [
    Claim(
        id="dco-passn-loss:ce-pass-at-n-falls",
        statement="Trained long with cross-entropy on labels 30% of which are wrong, a "
                  "classifier's pass@16 on clean validation labels peaks and then falls by at "
                  "least 5 points",
        source="arXiv:2502.07154, abstract (pass@N decreases with longer CE training) and the "
               "overconfidence analysis",
        arms={"ce": CE}, check=ce_pass_at_n_falls, package=__package__, budget_s=120,
    ),
    Claim(
        id="dco-passn-loss:dco-keeps-pass-at-n",
        statement="Trained the same way with the coverage loss for N = 16, pass@16 ends at "
                  "least 5 points above cross-entropy's and within 1 point of its own peak",
        source="arXiv:2502.07154, abstract (limiting confidence rescues pass@N) and the DCO "
               "objective",
        arms={"dco": DCO, "ce": CE}, check=dco_keeps_pass_at_n, package=__package__,
        budget_s=180,
    ),
]
