"""Claims on one run per seed: the paper's setting (Sec. 2) at the catalogued small scale,
200 full-batch GD steps, fresh data per seed, clean validation labels.

Each check reports its effects per seed; the verdict is the t-interval over seeds
(``assay.claims.decide``). Guards: a run whose accuracies are not finite (it diverged) is
INVALID; "training accuracy stays at 100% after fitting" says nothing when the network never
fitted its training set, so groks-benignly is then VACUOUS.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_least, at_most, invalid, vacuous

GROK = "gd/grok/"


def diverged_guard(m: Metrics, *names: str) -> Guard | None:
    """INVALID when a number the check reads is not finite (the run diverged)."""
    bad = [n for n in names if not math.isfinite(m[GROK + n])]
    return invalid(f"not finite (the run diverged): {', '.join(bad)}") if bad else None


def overfit_first(m: Metrics) -> Verdict:
    fit, val = m[GROK + "fit_step"], m[GROK + "val_acc_at_step1"]
    return Verdict(f"100% train accuracy first at step {fit:g}; val/acc after step 1 {val:.3f} "
                   "(paper: step 1 and val/acc <= 0.6)",
                   [at_most("fit_step", fit, 1.0), at_most("val_acc_at_step1", val, 0.6)],
                   guard=diverged_guard(m, "final_val_acc", "val_acc_at_step1"),
                   numbers={"val_acc_at_fit": m[GROK + "val_acc_at_fit"]})


def groks_benignly(m: Metrics) -> Verdict:
    val, train = m[GROK + "final_val_acc"], m[GROK + "min_train_acc_after_fit"]
    gen, fit = m[GROK + "generalize_step"], m[GROK + "fit_step"]
    guard = diverged_guard(m, "final_val_acc", "final_train_acc")
    if guard is None and math.isnan(m[GROK + "val_acc_at_fit"]):   # no step reached 100%
        guard = vacuous("the network never fitted its training labels, so there is no "
                        "'after fitting'")
    return Verdict(f"final val/acc {val:.3f}, lowest train/acc after fitting {train:.3f}, "
                   f"val/acc >= 0.9 first at step {gen:g} (fit at {fit:g}) (paper: final val/acc "
                   ">= 0.9, train/acc stays 1.0, generalising after fitting)",
                   [at_least("final_val_acc", val, 0.9),
                    at_least("min_train_acc_after_fit", train, 1.0),
                    at_least("steps_fit_to_generalise", gen - fit, 1.0)],
                   guard=guard, numbers={"generalize_step": gen})


ARMS = {"gd": "configs/gd.yaml"}
SMOKE = {"train.steps": 6, "train.eval_every": 3, "dataset.dim": 500, "dataset.n_val": 50}

CLAIMS = [
    Claim(
        id="xor-benign-grokking:overfit-first",
        statement="After one full-batch GD step the network fits every training label, the "
                  "flipped ones included, while its clean validation accuracy is near chance "
                  "(<= 60%)",
        source="arXiv:2310.02541, Sec. 3 (main theorem, first step)",
        arms=ARMS, check=overfit_first, package=__package__, budget_s=400, smoke=SMOKE,
    ),
    Claim(
        id="xor-benign-grokking:groks-benignly",
        statement="Later in training (by step 200) clean validation accuracy rises to >= 90% "
                  "while training accuracy, flipped labels included, stays at 100%",
        source="arXiv:2310.02541, Sec. 3 (main theorem, later steps) and Fig. 1",
        arms=ARMS, check=groks_benignly, package=__package__, budget_s=400, smoke=SMOKE,
    ),
]
