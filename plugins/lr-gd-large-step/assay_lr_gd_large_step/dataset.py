"""Linearly separable data with a margin: Gaussian inputs labelled by the sign of a linear
teacher, points closer to its hyperplane than ``margin`` redrawn.

Built on the core's linear teacher (``assay.lib.data.LinearTeacher``): the teacher is one
unit-norm direction u (one singular value, 1), the label of x is sign(u . x) as a regression
target in {-1, +1}, and every kept point has |u . x| >= margin, so u separates the training
set with at least that margin. By default every run seed draws a new teacher and new points
(``per_seed``), so the seeds of a claim are independent problems.
"""
from __future__ import annotations

import numpy as np
import torch
from assay import Data, Paper
from assay.lib.data import LinearTeacher, teacher

from assay_lr_gd_large_step.config import SeparableConfig

PAPER = Paper(title="From Logistic Regression to the Perceptron Algorithm: Exploring Gradient "
                    "Descent with Large Step Sizes", arxiv="2412.08424", year=2024)


def draw_outside_margin(rng: np.random.Generator, w: np.ndarray, n: int,
                        margin: float) -> np.ndarray:
    """``n`` Gaussian inputs (rows) with |w . x| >= margin, by rejection in batches."""
    kept: list[np.ndarray] = []
    count = 0
    while count < n:
        x = rng.standard_normal((2 * n, w.shape[1]))
        x = x[np.abs(x @ w.T).ravel() >= margin]
        kept.append(x)
        count += len(x)
    return np.concatenate(kept)[:n]


class Separable(LinearTeacher):
    """Separable binary data: labels in {-1, +1} (a regression target of width 1)."""

    name = "lr-gd-separable"
    Config = SeparableConfig
    paper = PAPER

    def load(self, seed: int) -> Data:
        c = self.config
        rng = self.rng(seed)
        w = teacher(c, rng)                                     # (1, in_dim)
        split = []
        for n in (c.n_train, c.n_val):
            x = draw_outside_margin(rng, w, n, c.margin)
            y = np.sign(x @ w.T)
            split.append((torch.from_numpy(x.astype(np.float32)),
                          torch.from_numpy(y.astype(np.float32))))
        return Data(split[0], split[1], task="regression", n_outputs=1, input_shape=(c.in_dim,),
                    info={"teacher": w, "margin": c.margin})
