"""Denoising data from a Laplace prior: x ~ Laplace(0, b), y = x + sigma * noise.

The inputs are the noisy y, the targets the clean x (``task: regression``). For this prior
both optimal denoisers are known: the MAP estimate is the proximal operator of
sigma^2 |x| / b, soft-thresholding at sigma^2 / b, and the MMSE estimate E[x | y] is a
one-dimensional integral (:func:`mmse_denoiser`).
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from assay import Data, Dataset, Paper

from assay_learned_proximal_networks.config import LaplaceDenoisingConfig

PAPER = Paper(title="What's in a Prior? Learned Proximal Networks for Inverse Problems",
              arxiv="2310.14344", year=2024)


def soft_threshold(y: np.ndarray, t: float) -> np.ndarray:
    """The MAP denoiser of a Laplace prior: sign(y) max(|y| - t, 0)."""
    return np.sign(y) * np.maximum(np.abs(y) - t, 0.0)


def mmse_denoiser(y: np.ndarray, scale: float, sigma: float) -> np.ndarray:
    """E[x | y] by quadrature on a fine grid (spacing 1e-3 of the wider of b and sigma)."""
    reach = 12 * max(scale, sigma) + float(np.abs(y).max())
    x = np.linspace(-reach, reach, int(2 * reach / (1e-3 * min(scale, sigma))) + 1)
    log_post = -np.abs(x)[None, :] / scale - (y[:, None] - x[None, :]) ** 2 / (2 * sigma**2)
    w = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    return (w * x).sum(axis=1) / w.sum(axis=1)


class LaplaceDenoising(Dataset):
    """Pairs (noisy y, clean x) with x from a Laplace prior; a fresh draw per run seed."""

    name = "lpn-laplace"
    Config = LaplaceDenoisingConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "dataset": {"name": "lpn-laplace", "n_train": 512, "n_val": 128}}

    def load(self, seed: int) -> Data:
        c = self.config
        rng = np.random.default_rng([2310, seed])
        n = c.n_train + c.n_val
        x = rng.laplace(0.0, c.scale, n)
        y = x + c.sigma * rng.standard_normal(n)
        xt = torch.tensor(x, dtype=torch.float32).unsqueeze(1)
        yt = torch.tensor(y, dtype=torch.float32).unsqueeze(1)
        k = c.n_train
        return Data((yt[:k], xt[:k]), (yt[k:], xt[k:]), task="regression", n_outputs=1,
                    input_shape=(1,), info={"scale": c.scale, "sigma": c.sigma})
