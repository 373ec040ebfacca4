"""Parity of bit strings: label = (number of ones) mod 2.

Token ids: 0 and 1 are bits, 2 marks the start (BOS), 3 is padding. Every sequence is
``[PAD ... PAD, BOS, bits]``, left-padded to one common width ``max(train_length,
val_length) + 1`` so that the splits share ``input_shape`` and the last position is always the
last bit. Training lengths are uniform in ``[min_length, train_length]``; every validation
sequence has exactly ``val_length`` bits. ``val_length > train_length`` tests length
generalisation, as in the paper (train up to 40 bits, test 40 to 256).
"""
from __future__ import annotations

import numpy as np
import torch
from assay import Data, Dataset

from assay_negative_eigen_lrnn.config import ParityConfig

from .model import PAPER

BIT0, BIT1, BOS, PAD = 0, 1, 2, 3


def parity_strings(rng: np.random.Generator, n: int, lengths: np.ndarray, width: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, width) left-padded token ids with BOS, and (n,) parities."""
    x = np.full((n, width), PAD, np.int64)
    bits = rng.integers(0, 2, size=(n, width - 1))
    keep = np.arange(width - 1)[None, :] >= (width - 1 - lengths)[:, None]  # last `len` slots
    bits = np.where(keep, bits, 0)
    x[:, 1:] = np.where(keep, bits, PAD)
    x[np.arange(n), width - 1 - lengths] = BOS
    return torch.from_numpy(x), torch.from_numpy(bits.sum(1) % 2)


class Parity(Dataset):
    """Bit strings labelled by their parity; optionally longer at validation."""

    name = "negative-eigen-lrnn-parity"
    Config = ParityConfig
    paper = PAPER

    def load(self, seed: int) -> Data:
        c = self.config
        rng = np.random.default_rng(c.data_seed)
        width = max(c.train_length, c.val_length) + 1
        train_lengths = rng.integers(c.min_length, c.train_length + 1, size=c.n_train)
        train = parity_strings(rng, c.n_train, train_lengths, width)
        val = parity_strings(rng, c.n_val, np.full(c.n_val, c.val_length), width)
        return Data(train, val, task="classification", n_outputs=2, input_shape=(width,),
                    info={"vocab_size": 4, "pad_token": PAD, "bos_token": BOS})
