"""GradSign's claim at small scale: over 40 random digits MLPs (depth, width, activation),
the rank correlation of each zero-cost proxy at initialisation with the trained validation
accuracy, per seed (one seed = one initialisation of all 40 networks).

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards: INVALID when fewer than 10 trials finished with every
proxy; VACUOUS when every trial reached the same accuracy (nothing to rank).
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import at_least, invalid, trials, vacuous

RHO_MIN = 0.3
PROXIES = ("zc/gradsign", "zc/grad_norm", "zc/snip", "zc/params")
MIN_TRIALS = 10


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    if len(set(a)) < 2 or len(set(b)) < 2:
        return 0.0                                  # a constant ranks nothing
    return float(spearmanr(a, b).statistic)


def ranks_accuracy(m: Metrics) -> Verdict:
    rows = [t for t in trials(m, "search")
            if all(math.isfinite(t.get(k, math.nan)) for k in (*PROXIES, "val/acc"))]
    if len(rows) < MIN_TRIALS:
        return Verdict(f"{len(rows)} finished trials with every proxy",
                       guard=invalid(f"only {len(rows)} trials (< {MIN_TRIALS}) finished"))
    acc = [t["val/acc"] for t in rows]
    if len(set(acc)) < 2:
        return Verdict(f"every trial reached val/acc {acc[0]:.4f}",
                       guard=vacuous("every architecture reached the same accuracy"))
    rho = {k.removeprefix("zc/"): spearman([t[k] for t in rows], acc) for k in PROXIES}
    margin = rho["gradsign"] - max(rho["grad_norm"], rho["snip"])
    shown = ", ".join(f"{k} {v:+.3f}" for k, v in rho.items())
    return Verdict(f"Spearman rho with val/acc over {len(rows)} architectures: {shown} "
                   f"(paper: gradsign >= {RHO_MIN} and >= grad_norm's and SNIP's)",
                   [at_least("rho_gradsign", rho["gradsign"], RHO_MIN),
                    at_least("rho_gradsign_minus_best_baseline", margin, 0.0)],
                   numbers={f"rho_{k}": v for k, v in rho.items()})


CLAIMS = [
    Claim(
        id="gradsign:ranks-accuracy",
        statement="Over 40 random digits MLPs, GradSign at initialisation (one batch of 64) has "
                  "Spearman rho >= 0.3 with the trained validation accuracy, and at least that "
                  "of grad_norm and SNIP",
        source="GradSign (Zhang and Jia, ICLR 2022), abstract and Sec. 5 (Spearman's rho on "
               "NAS benchmarks against gradient-based proxies)",
        arms={"search": "configs/search.yaml"},
        check=ranks_accuracy, package=__package__, seeds=3, max_seeds=7, budget_s=900,
    ),
]
