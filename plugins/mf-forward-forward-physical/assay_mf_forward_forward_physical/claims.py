"""The MF-FF claims at small scale: digits (1437 training, 360 held-out images), a 3-block
simulated optical network, 5 seeds (each seed draws a new device, initialisation, noise and
batch order).

Arms: ``mf-ff`` (model-free forward-forward, the physical layers a black box) and
``backprop`` (the same network, the physics an exact differentiable simulator, cross-entropy
through every layer). Accuracy is on the held-out split (``val/acc``): no hyperparameter is
tuned on it, so it is a test accuracy.

Each check reports its effect per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards: INVALID when the MF-FF arm queried any gradient of a
physical layer (it would not be model-free), when the backprop arm sits at chance or diverged,
or when it never backpropagated through the physics (then it is not the upper bound).
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_least, at_most, baseline_guard, invalid

ACC = "val/acc"
QUERIES = "phys/grad_queries"
ARMS = {"mf-ff": "configs/mfff_digits.yaml", "backprop": "configs/backprop_digits.yaml"}
FF_ONLY = {"mf-ff": ARMS["mf-ff"]}
ACC_MIN = 0.85            # the catalog's threshold
GAP_MAX = 0.05            # "within 5 points"
SOURCE = "arXiv:2304.11042 (Science 382, 2023)"


def model_free_guard(m: Metrics) -> Guard | None:
    """INVALID when the MF-FF arm needed any derivative of a physical layer."""
    q = m.get(f"mf-ff/{QUERIES}", math.nan)
    if q != 0:
        return invalid(f"the mf-ff arm made {q:g} gradient queries through physical layers")
    return None


def reaches_accuracy(m: Metrics) -> Verdict:
    acc = m.get(f"mf-ff/{ACC}", math.nan)
    return Verdict(f"MF-FF held-out accuracy {acc:.4f} with {m.get(f'mf-ff/{QUERIES}', math.nan):g}"
                   f" physical gradient queries (paper: >= {ACC_MIN}, 0 queries)",
                   [at_least("mfff_acc", acc, ACC_MIN)], guard=model_free_guard(m),
                   numbers={"mfff_acc": acc})


def near_backprop(m: Metrics) -> Verdict:
    ff, bp = m.get(f"mf-ff/{ACC}", math.nan), m.get(f"backprop/{ACC}", math.nan)
    gap = bp - ff
    guard = (baseline_guard(m, ["backprop"], metric=ACC, chance=0.1, margin=0.1)
             or model_free_guard(m))
    if guard is None and not m.get(f"backprop/{QUERIES}", 0.0) > 0:
        guard = invalid("the backprop arm never backpropagated through a physical layer")
    return Verdict(f"held-out accuracy backprop {bp:.4f}, MF-FF {ff:.4f}: gap {gap:+.4f} "
                   f"(paper: <= {GAP_MAX})", [at_most("bp_minus_mfff", gap, GAP_MAX)],
                   guard=guard, numbers={"bp_acc": bp, "mfff_acc": ff})


CLAIMS = [
    Claim(
        id="mf-forward-forward-physical:reaches-85",
        statement="Model-free forward-forward training of the digital layers between three "
                  "fixed, noisy (2%), non-differentiable optical-like layers reaches >= 85% "
                  "held-out accuracy on digits with zero gradient queries through the physics",
        source=SOURCE + ", abstract and Fig. 2 (MF-FF trains deep PNNs without a model of "
                        "the physical layers)",
        arms=FF_ONLY, check=reaches_accuracy, package=__package__, seeds=5, budget_s=400,
    ),
    Claim(
        id="mf-forward-forward-physical:near-backprop",
        statement="MF-FF lands within 5 points of backpropagation through an exact "
                  "differentiable simulator of the same physical network",
        source=SOURCE + ", Fig. 2-3 (MF-FF against in-silico backprop and physics-aware "
                        "training)",
        arms=ARMS, check=near_backprop, package=__package__, seeds=5, budget_s=600,
    ),
]
