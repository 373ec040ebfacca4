"""scikit-learn's 8x8 digits with a known share of training labels flipped.

The flipped positions are recorded in ``Data.info["noisy_idx"]`` (indices into the training
split), so a data-selection method can be scored on how well it finds them. Validation labels
stay clean: accuracy is measured against the truth.
"""
from __future__ import annotations

import numpy as np
import torch
from assay import Data, Dataset

from assay_el2n_data_diet.config import NoisyDigitsConfig

from .method import PAPER


class NoisyDigits(Dataset):
    """8x8 digits (1797 images, 10 classes) with recorded label noise in the training split."""

    name = "el2n-data-diet-noisy-digits"
    Config = NoisyDigitsConfig
    paper = PAPER

    def load(self, seed: int) -> Data:
        from assay.lib.data import digits_arrays

        c = self.config
        images, labels = digits_arrays()
        x = (images / 16.0).astype(np.float32)[:, None]              # (N, 1, 8, 8)
        y = labels.astype(np.int64)
        rng = np.random.default_rng(c.data_seed)
        perm = rng.permutation(len(x))
        n_val = max(1, round(len(x) * c.val_fraction))
        val, train = perm[:n_val], perm[n_val:]
        y_train = y[train].copy()
        noisy = np.sort(rng.choice(len(train), size=round(c.noise * len(train)),
                                   replace=False))
        y_train[noisy] = (y_train[noisy] + rng.integers(1, 10, size=len(noisy))) % 10
        t = torch.from_numpy
        return Data((t(x[train]), t(y_train)), (t(x[val]), t(y[val])), task="classification",
                    n_outputs=10, input_shape=(1, 8, 8),
                    info={"noisy_idx": t(noisy.astype(np.int64)), "noise": c.noise})
