"""A generated large-vocabulary language-modelling task (no download, any vocabulary size).

Each token has a few fixed successors drawn at random; a sequence moves to one of them with
probability ``1 - noise`` and otherwise draws a token from a Zipf-shaped background. A model
can learn the successor table (loss falls from ln V towards ~ln(successors)), and the
vocabulary is as large as the loss experiments need.
"""
from __future__ import annotations

import numpy as np
import torch
from assay import Data, Dataset

from assay_cut_cross_entropy.config import LargeVocabTokensConfig

from .method import PAPER


class LargeVocabTokens(Dataset):
    """Sequences from a random sparse successor table over a large vocabulary."""

    name = "cut-cross-entropy-tokens"
    Config = LargeVocabTokensConfig
    paper = PAPER

    def load(self, seed: int) -> Data:
        c = self.config
        rng = np.random.default_rng(c.data_seed)
        table = rng.integers(c.vocab_size, size=(c.vocab_size, c.successors))
        zipf = 1.0 / np.arange(1, c.vocab_size + 1) ** 1.1
        zipf /= zipf.sum()
        n, length = c.n_train + c.n_val, c.seq_len + 1
        tokens = np.empty((n, length), np.int64)
        tokens[:, 0] = rng.choice(c.vocab_size, size=n, p=zipf)
        for t in range(1, length):
            nxt = table[tokens[:, t - 1], rng.integers(c.successors, size=n)]
            background = rng.random(n) < c.noise
            nxt[background] = rng.choice(c.vocab_size, size=int(background.sum()), p=zipf)
            tokens[:, t] = nxt
        seqs = torch.from_numpy(tokens)
        train, val = seqs[:c.n_train], seqs[c.n_train:]
        return Data((train[:, :-1].clone(), train[:, 1:].clone()),
                    (val[:, :-1].clone(), val[:, 1:].clone()), task="lm",
                    n_outputs=c.vocab_size, input_shape=(c.seq_len,))
