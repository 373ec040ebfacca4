"""Two interleaved spirals in the plane, labels +-1 as a regression target.

The two-spiral problem is the classic hard landscape for a small ReLU net trained by gradient
descent: the classes wind around each other, so a net that fits them needs many kinks placed
just so. A point of class +1 at angle t (t uniform in area on [0, turns * 2 pi]) sits at
radius t / (turns * 2 pi), class -1 is class +1 rotated by pi. The targets are +-1 floats
(``task: regression``): the convex program of Pilanci and Ergen (and of arXiv:2201.01965)
is written for the squared loss.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from assay import Data, Dataset, Paper

from assay_convex_relu.config import SpiralsConfig

PAPER = Paper(title="Efficient Global Optimization of Two-layer ReLU Networks: Quadratic-time "
                    "Algorithms and Adversarial Training", arxiv="2201.01965", year=2022)


def spirals(n: int, turns: float, noise: float, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    """(points (n, 2), targets (n,) in {+1, -1}); the first half of the points is class +1."""
    half = n // 2
    span = turns * 2 * np.pi
    t = np.sqrt(rng.uniform(0, 1, n)) * span               # uniform in area along the arm
    x = np.stack([t * np.cos(t), t * np.sin(t)], 1) / span
    x[half:] *= -1                                           # the second arm: rotated by pi
    x += noise * rng.standard_normal((n, 2))
    y = np.where(np.arange(n) < half, 1.0, -1.0)
    return x.astype(np.float32), y.astype(np.float32)


class Spirals(Dataset):
    """Two interleaved spirals, a fresh draw per run seed."""

    name = "convex-relu-spirals"
    Config = SpiralsConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "dataset": {"name": "convex-relu-spirals", "n_train": 64, "n_val": 64}}

    def load(self, seed: int) -> Data:
        c = self.config
        rng = np.random.default_rng([2201, seed])
        x, y = spirals(c.n_train + c.n_val, c.turns, c.noise, rng)
        order = rng.permutation(len(y))                      # mix classes across the splits
        x, y = torch.from_numpy(x[order]), torch.from_numpy(y[order]).unsqueeze(1)
        n = c.n_train
        return Data((x[:n], y[:n]), (x[n:], y[n:]), task="regression", n_outputs=1,
                    input_shape=(2,))
