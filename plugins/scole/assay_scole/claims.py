"""SCoLe's claim at small scale: plain SGD on a stream of 500 two-digit tasks drawn from the 10
digits (classes recur), no replay, accumulates knowledge.

Effects per seed, decided by the t-interval over seeds (``assay.claims.decide``):

- the all-class validation accuracy after the last task (500), at least 0.80;
- its ratio to the accuracy after task 20, at least 1.5 (it keeps rising long after every
  digit has been seen).

Guard: INVALID when the run diverged (a non-finite accuracy) or the stream was too short to
reach task 20 (the early reference point does not exist).
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import at_least, invalid

MIN_FINAL_ACC = 0.80       # "all-class accuracy >= 80% after the last task"
MIN_GROWTH = 1.5           # "... and >= 1.5x its value after task 20"
EARLY_TASK = 20
ARM = "stream"


def accumulates(m: Metrics) -> Verdict:
    final, early = m.get(f"{ARM}/val/acc", math.nan), m.get(
        f"{ARM}/scole/acc/task_{EARLY_TASK}", math.nan)
    tasks = m.get(f"{ARM}/scole/tasks", math.nan)
    if not (math.isfinite(final) and math.isfinite(early)):
        stop = invalid(f"no finite all-class accuracy after task {EARLY_TASK} and after the "
                       f"last task ({tasks:.0f}): {early}, {final}")
        return Verdict(stop.reason, guard=stop)
    growth = final / early if early > 0 else math.inf
    return Verdict(f"all-class val/acc after task {EARLY_TASK}: {early:.4f}; after task "
                   f"{tasks:.0f}: {final:.4f} (paper: >= {MIN_FINAL_ACC}); growth {growth:.2f}x "
                   f"(>= {MIN_GROWTH})",
                   [at_least("final_acc", final, MIN_FINAL_ACC),
                    at_least("growth", growth, MIN_GROWTH)],
                   numbers={"acc_task_1": m.get(f"{ARM}/scole/acc/task_1", math.nan),
                            "acc_task_100": m.get(f"{ARM}/scole/acc/task_100", math.nan),
                            "tasks": tasks})


# smoke: 30 tasks of 9 steps, so that task 20 exists and the check has both numbers
SMOKE = {"train.steps": 270, "train.eval_every": 90}

CLAIMS = [
    Claim(
        id="scole:accumulates",
        statement="Trained with plain SGD on 500 two-class tasks drawn uniformly from the 10 "
                  "digits (classes recur; no replay, no regulariser), an MLP ends with "
                  "all-class accuracy of at least 80%, at least 1.5 times its accuracy after "
                  "task 20",
        source="arXiv:2207.04543, abstract and the SCoLe experiments (knowledge accumulation "
               "over long sequences with re-occurring classes)",
        arms={ARM: "configs/stream_digits.yaml"}, check=accumulates, package=__package__,
        seeds=3, max_seeds=7, budget_s=180, smoke=SMOKE,
    ),
]
