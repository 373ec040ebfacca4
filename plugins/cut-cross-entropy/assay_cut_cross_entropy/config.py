"""The configs of cut-cross-entropy's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class LargeVocabTokensConfig(Config):
    vocab_size: int = Field(32768, ge=2, le=2**20, description="Vocabulary size V")
    seq_len: int = Field(128, ge=2, le=4096, description="Tokens per example")
    n_train: int = Field(256, ge=1, le=10**6, description="Training sequences")
    n_val: int = Field(8, ge=1, le=10**5, description="Validation sequences (the core "
                       "evaluation materialises their logits: keep n_val x seq_len x V small)")
    successors: int = Field(4, ge=1, le=1024, description="Fixed successors of every token")
    noise: float = Field(0.1, ge=0, le=1, description="Share of tokens drawn from the "
                         "Zipf background instead of a successor")
    data_seed: int = Field(0, ge=0, description="Seed of the successor table and the samples")


class CutCrossEntropyConfig(Config):
    """Paper: https://arxiv.org/abs/2411.09009 - cross-entropy without materialised logits."""

    impl: Literal["blockwise", "materialized"] = Field(
        "blockwise", description="blockwise: the paper's method; materialized: full logits "
                                 "then F.cross_entropy (the baseline)")
    vocab_block: int = Field(4096, ge=1, le=2**20, description="Vocabulary entries per tile")
    token_block: int = Field(1024, ge=1, le=2**20, description="Tokens per tile")
    filter_eps: float = Field(0.0, ge=0, lt=1, description="Gradient filtering: skip a tile "
                              "whose softmax values are all below this (paper: 2^-12, about "
                              "2.44e-4); 0 turns filtering off and keeps gradients exact")
    measure_memory: bool = Field(False, description="Before training, profile one loss "
                                 "forward+backward and report loss/peak_mb, loss/fwd_bwd_s and "
                                 "loss/probe_value")
    measure_tokens: int = Field(4096, ge=1, le=2**22, description="Tokens in the measured "
                                "batch (rounded up to whole sequences)")
