"""The published Step Law (arXiv:2503.04715, Sec. 3, the fitted law stated with the paper's
hyperparameter tool), for reference lines on plots and in run metrics:

    eta_opt(N, D) = 1.79 * N**-0.713 * D**0.307      (peak learning rate, AdamW)
    B_opt(D)      = 0.58 * D**0.571                  (batch size in tokens)

N counts non-embedding parameters, D training tokens. The constants were fitted on dense
transformers of 60M-1B parameters trained on up to ~100B tokens; at assay's scale only the
signs and rough sizes of the exponents are meaningful.
"""
from __future__ import annotations

from torch import nn

LR_COEF, LR_N_EXP, LR_D_EXP = 1.79, -0.713, 0.307
BATCH_COEF, BATCH_D_EXP = 0.58, 0.571


def optimal_lr(n_params: float, tokens: float) -> float:
    """The paper's optimal peak learning rate for N non-embedding params and D tokens."""
    if n_params <= 0 or tokens <= 0:
        raise ValueError(f"N and D must be positive, got N={n_params}, D={tokens}")
    return LR_COEF * n_params ** LR_N_EXP * tokens ** LR_D_EXP


def optimal_batch_tokens(tokens: float) -> float:
    """The paper's optimal batch size, in tokens, for D training tokens (independent of N)."""
    if tokens <= 0:
        raise ValueError(f"D must be positive, got {tokens}")
    return BATCH_COEF * tokens ** BATCH_D_EXP


def non_embedding_params(model: nn.Module) -> int:
    """Parameters outside token/position embeddings and, for a language model (one that has
    an embedding), outside the vocabulary readout: the paper's N."""
    skip: set[int] = set()
    embeddings = [m for m in model.modules() if isinstance(m, nn.Embedding)]
    for m in embeddings:
        skip.update(id(p) for p in m.parameters())
    readout = getattr(model, "readout", None)
    if embeddings and isinstance(readout, nn.Module):
        skip.update(id(p) for p in readout.parameters())
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def transformer_non_embedding(width: int, depth: int) -> int:
    """N of assay's built-in ``transformer`` (pre-norm blocks with 4x MLPs, biases, final
    LayerNorm), without building it: per block 12 d^2 + 13 d, plus 2 d."""
    return depth * (12 * width * width + 13 * width) + 2 * width
