"""Cut Cross-Entropy's claims on CPU: the same loss for a fraction of the memory.

Both arms run the same seeded transformer on a 32768-token vocabulary. Before training each
profiles one loss forward+backward on the same 4096 tokens (``loss/peak_mb``,
``loss/probe_value``); then each trains 20 steps with its own loss.
"""
from __future__ import annotations

from assay import Claim, Metrics, Verdict

MIN_MEMORY_RATIO = 10.0     # (N, V) logits + log-softmax + grad vs a few (1024, 4096) tiles
VALUE_RTOL = 1e-5           # float32 loss on identical inputs
TRAINED_RTOL = 1e-3         # val/loss after 20 identical-seed steps


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def less_memory(m: Metrics) -> Verdict:
    ratio = m["materialized/loss/peak_mb"] / m["blockwise/loss/peak_mb"]
    err = _rel(m["blockwise/loss/probe_value"], m["materialized/loss/probe_value"])
    passed = ratio >= MIN_MEMORY_RATIO and err <= VALUE_RTOL
    return Verdict(passed, f"loss peak memory materialized/blockwise = {ratio:.1f}x "
                           f"({m['materialized/loss/peak_mb']:.0f} vs "
                           f"{m['blockwise/loss/peak_mb']:.0f} MiB; pass: >= "
                           f"{MIN_MEMORY_RATIO:g}x), loss rel. diff {err:.1e} (pass: <= "
                           f"{VALUE_RTOL:g})", {"memory_ratio": ratio, "value_rel_diff": err})


def same_training(m: Metrics) -> Verdict:
    err = _rel(m["blockwise/val/loss"], m["materialized/val/loss"])
    return Verdict(err <= TRAINED_RTOL, f"val/loss blockwise {m['blockwise/val/loss']:.5f} vs "
                                        f"materialized {m['materialized/val/loss']:.5f}: rel. "
                                        f"diff {err:.1e} (pass: <= {TRAINED_RTOL:g})",
                   {"trained_rel_diff": err})


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
