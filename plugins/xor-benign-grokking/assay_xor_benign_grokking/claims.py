"""Claims on one run per seed: the paper's setting (Sec. 2) at the catalogued small scale,
200 full-batch GD steps, fresh data per seed, clean validation labels."""
from __future__ import annotations

from assay import Claim, Metrics, Verdict


def overfit_first(m: Metrics) -> Verdict:
    fit, val = m["gd/grok/fit_step"], m["gd/grok/val_acc_at_fit"]
    ok = fit <= 1 and val <= 0.6
    return Verdict(ok, f"100% train accuracy first at step {fit:g} with val/acc {val:.3f} "
                   "(pass: step 1 and val/acc <= 0.6)", {"fit_step": fit, "val_acc_at_fit": val})


def groks_benignly(m: Metrics) -> Verdict:
    val, train = m["gd/grok/final_val_acc"], m["gd/grok/min_train_acc_after_fit"]
    gen, fit = m["gd/grok/generalize_step"], m["gd/grok/fit_step"]
    ok = val >= 0.9 and train >= 1.0 and gen > fit
    return Verdict(ok, f"final val/acc {val:.3f}, lowest train/acc after fitting {train:.3f}, "
                   f"val/acc >= 0.9 first at step {gen:g} (fit at {fit:g}) (pass: final val/acc "
                   ">= 0.9, train/acc stays 1.0, generalising after fitting)",
                   {"final_val_acc": val, "min_train_acc_after_fit": train,
                    "generalize_step": gen})


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
