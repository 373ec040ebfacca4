"""Cut Cross-Entropy's claims on CPU: the same loss for a fraction of the memory.

Both arms run the same seeded transformer on a 32768-token vocabulary. Before training each
profiles one loss forward+backward on the same 4096 tokens (``loss/peak_mb``,
``loss/probe_value``); then each trains 20 steps with its own loss.

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``), with the INVALID guard when the materialised baseline's numbers
are not finite.
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, at_least, at_most, invalid

MIN_MEMORY_RATIO = 10.0     # (N, V) logits + log-softmax + grad vs a few (1024, 4096) tiles
VALUE_RTOL = 1e-5           # float32 loss on identical inputs
TRAINED_RTOL = 1e-3         # val/loss after 20 identical-seed steps


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def baseline_guard(m: Metrics, *names: str) -> Guard | None:
    """INVALID when a number of the materialised baseline is not finite (it diverged, or its
    probe failed). Its loss sits near ln V after a few steps by design, so no chance level."""
    bad = [n for n in names if not math.isfinite(m[f"materialized/{n}"])]
    if bad:
        return invalid(f"materialised baseline not finite: {', '.join(bad)}")
    return None


def less_memory(m: Metrics) -> Verdict:
    ratio = m["materialized/loss/peak_mb"] / m["blockwise/loss/peak_mb"]
    err = _rel(m["blockwise/loss/probe_value"], m["materialized/loss/probe_value"])
    return Verdict(f"loss peak memory materialized/blockwise = {ratio:.1f}x "
                   f"({m['materialized/loss/peak_mb']:.0f} vs "
                   f"{m['blockwise/loss/peak_mb']:.0f} MiB; paper: >= "
                   f"{MIN_MEMORY_RATIO:g}x), loss rel. diff {err:.1e} (paper: <= "
                   f"{VALUE_RTOL:g})",
                   [at_least("memory_ratio", ratio, MIN_MEMORY_RATIO),
                    at_most("value_rel_diff", err, VALUE_RTOL)],
                   guard=baseline_guard(m, "loss/peak_mb", "loss/probe_value"),
                   numbers={"memory_ratio": ratio, "value_rel_diff": err})


def same_training(m: Metrics) -> Verdict:
    err = _rel(m["blockwise/val/loss"], m["materialized/val/loss"])
    return Verdict(f"val/loss blockwise {m['blockwise/val/loss']:.5f} vs "
                   f"materialized {m['materialized/val/loss']:.5f}: rel. "
                   f"diff {err:.1e} (paper: <= {TRAINED_RTOL:g})",
                   [at_most("trained_rel_diff", err, TRAINED_RTOL)],
                   guard=baseline_guard(m, "val/loss"), numbers={"trained_rel_diff": err})


ARMS = {"blockwise": "configs/blockwise_32k.yaml", "materialized": "configs/materialized_32k.yaml"}
SMOKE = {"train.steps": 2, "train.eval_every": 1, "dataset.vocab_size": 2048,
         "methods.loss.measure_tokens": 512}

CLAIMS = [
    Claim(
        id="cut-cross-entropy:less-memory",
        statement="At a 32k vocabulary and 4096 tokens, computing the loss tile by tile needs at "
                  "least 10x less peak memory for forward+backward than materialising the "
                  "logits, for the same loss value",
        source="arXiv:2411.09009, Sec. 5, Table 1 (memory and time of loss implementations)",
        arms=ARMS, check=less_memory, package=__package__, budget_s=300, smoke=SMOKE,
    ),
    Claim(
        id="cut-cross-entropy:same-training",
        statement="Training with the tiled loss follows the materialised loss: after 20 steps "
                  "from the same seed the validation losses agree to 0.1%",
        source="arXiv:2411.09009, Sec. 5, Fig. 5 (training curves match the baseline)",
        arms=ARMS, check=same_training, package=__package__, budget_s=300, smoke=SMOKE,
    ),
]
