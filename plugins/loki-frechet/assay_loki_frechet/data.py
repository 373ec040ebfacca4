"""An ordinal task whose training set shows only a few of its labels.

A latent t in [0, 1) is cut into ``n_bins`` equal bins; the bin is the label, so labels have a
natural distance |i - j|. The input is a smooth, noisy embedding of t: a soft thermometer code
(``dim`` tanh units of t with random centres and slopes), rotated by a random orthogonal matrix,
plus Gaussian noise. Training and validation examples come only from the ``observed`` bins;
the test split covers every bin, so it holds labels no training example had.
"""
from __future__ import annotations

import numpy as np
import torch
from assay import Data, Dataset

from assay_loki_frechet.config import OrdinalConfig

from .method import PAPER

SLOPES = (2.0, 8.0)          # tanh slopes per unit of t: smooth enough to interpolate


class Embedding:
    """x(t) = Q tanh(s * (t - c)) + noise, with c, s and Q drawn once from ``rng``."""

    def __init__(self, dim: int, noise: float, rng: np.random.Generator) -> None:
        self.centres = rng.uniform(0.0, 1.0, dim)
        self.slopes = rng.uniform(*SLOPES, dim)
        self.rotation = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
        self.noise = noise

    def __call__(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        code = np.tanh(self.slopes * (t[:, None] - self.centres))      # (N, dim)
        x = code @ self.rotation + self.noise * rng.normal(size=code.shape)
        return x.astype(np.float32)


class OrdinalBins(Dataset):
    """Ordinal labels (bins of a latent t); train and validation show only ``observed``."""

    name = "loki-frechet-ordinal"
    Config = OrdinalConfig
    paper = PAPER

    def load(self, seed: int) -> Data:
        c = self.config
        rng = np.random.default_rng(seed if c.data_seed is None else c.data_seed)
        embed = Embedding(c.dim, c.noise, rng)
        observed = np.array(sorted(c.observed))

        def split(t: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            bins = np.minimum((t * c.n_bins).astype(np.int64), c.n_bins - 1)
            return torch.from_numpy(embed(t, rng)), torch.from_numpy(bins)

        def in_observed(n: int) -> np.ndarray:
            return (rng.choice(observed, n) + rng.uniform(0.0, 1.0, n)) / c.n_bins

        train, val = split(in_observed(c.n_train)), split(in_observed(c.n_val))
        test = split(rng.uniform(0.0, 1.0, c.n_test))
        return Data(train, val, task="classification", n_outputs=c.n_bins,
                    input_shape=(c.dim,), test=test,
                    info={"observed": observed.tolist()})
