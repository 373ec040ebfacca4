"""XOR cluster data with flipped labels (arXiv:2310.02541, Sec. 2).

Two orthogonal means mu_1, mu_2 of equal norm give four clusters: +-mu_1 carry label 1 and
+-mu_2 label 0, so no linear classifier beats chance. An example is its cluster mean plus
isotropic noise N(0, I_d); each training label is flipped with probability ``label_noise``.
The validation split keeps clean labels (``clean_val``), so its Bayes-optimal accuracy is ~1.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from assay import Data, Dataset

from assay_xor_benign_grokking.config import XorClustersConfig

from .model import PAPER


def xor_clusters(n: int, dim: int, mean_norm: float, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(x, clean labels): means +-mean_norm*e_1 (label 1) and +-mean_norm*e_2 (label 0)."""
    cluster = rng.integers(0, 4, n)                      # 0:+mu1 1:-mu1 2:+mu2 3:-mu2
    x = rng.standard_normal((n, dim), dtype=np.float32)
    axis, sign = cluster // 2, 1.0 - 2.0 * (cluster % 2)
    x[np.arange(n), axis] += (sign * mean_norm).astype(np.float32)
    return x, (axis == 0).astype(np.int64)


class XorClusters(Dataset):
    """Four Gaussian clusters in XOR position, high dimension, noisy training labels."""

    name = "xor-benign-grokking"
    Config = XorClustersConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {"dataset": {
        "name": "xor-benign-grokking", "n_train": 128, "n_val": 64, "dim": 50,
        "mean_norm": 5.0, "label_noise": 0.0}}

    def load(self, seed: int) -> Data:
        c = self.config
        rng = np.random.default_rng([c.data_seed, seed] if c.vary_with_seed else c.data_seed)
        norm = c.mean_norm or c.n_train ** 0.26 * c.dim ** 0.25
        x, y = xor_clusters(c.n_train + c.n_val, c.dim, norm, rng)
        flip = rng.random(len(y)) < c.label_noise
        if c.clean_val:
            flip[c.n_train:] = False
        noisy = np.where(flip, 1 - y, y)
        t = torch.from_numpy
        train, val = slice(None, c.n_train), slice(c.n_train, None)
        return Data((t(x[train]), t(noisy[train])), (t(x[val]), t(noisy[val])),
                    task="classification", n_outputs=2, input_shape=(c.dim,),
                    info={"mean_norm": norm, "flipped_train": int(flip[:c.n_train].sum())})
