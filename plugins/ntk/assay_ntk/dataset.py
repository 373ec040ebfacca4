"""A scalar regression task on scikit-learn's 8x8 digits: the target is the parity of the
digit (+1 even, -1 odd), the inputs are the 64 pixels centred (the mean image over all 1797
digits removed) and scaled to norm sqrt(64), so every input lies on one sphere (the setting
of the paper's positive-definiteness result) and first-layer pre-activations are O(1). Each
run seed draws its own ``n_train`` training and ``n_val`` test images, without overlap.
"""
from __future__ import annotations

import numpy as np
import torch
from assay import Data, Dataset, Paper
from assay.lib.data import digits_arrays

from assay_ntk.config import DigitsParityConfig

PAPER = Paper(title="Neural Tangent Kernel: Convergence and Generalization in Neural Networks",
              arxiv="1806.07572", year=2018)


def sphere_inputs(images: np.ndarray) -> np.ndarray:
    """Flatten, centre on the mean image, scale every row to norm sqrt(dim)."""
    x = images.reshape(len(images), -1)
    x = x - x.mean(0, keepdims=True)
    return x * np.sqrt(x.shape[1]) / np.linalg.norm(x, axis=1, keepdims=True)


class DigitsParity(Dataset):
    """Digits parity as regression: (64,) inputs on a sphere, targets in {-1, +1}."""

    name = "ntk-digits-parity"
    Config = DigitsParityConfig
    paper = PAPER

    def load(self, seed: int) -> Data:
        c = self.config
        images, labels = digits_arrays()
        x = sphere_inputs(images)
        y = np.where(labels % 2 == 0, 1.0, -1.0)[:, None]
        pick = np.random.default_rng([c.data_seed, seed]).permutation(len(x))
        train, val = pick[:c.n_train], pick[c.n_train:c.n_train + c.n_val]
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        return Data((t(x[train]), t(y[train])), (t(x[val]), t(y[val])), task="regression",
                    n_outputs=1, input_shape=(x.shape[1],))
