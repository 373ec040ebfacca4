"""A mixture of Gaussian clusters, one per class: the data family in which the paper varies
the number of clusters (arXiv:1706.04454, Sec. 3)."""
from __future__ import annotations

import numpy as np
import torch
from assay import Config, Data, Dataset
from pydantic import Field

from .spectrum import PAPER


class BlobsConfig(Config):
    """Paper: https://arxiv.org/abs/1706.04454 - k Gaussian clusters, k classes."""

    n_classes: int = Field(4, ge=2, le=1000, description="Clusters (= classes)")
    dim: int = Field(20, ge=1, le=100_000, description="Input dimension")
    separation: float = Field(4.0, ge=0, description="Distance of each cluster mean from the "
                                                     "origin (noise has unit std per axis)")
    n_train: int = Field(1000, ge=2, le=1_000_000, description="Training examples")
    n_val: int = Field(500, ge=2, le=1_000_000, description="Validation examples")
    data_seed: int = Field(0, ge=0, description="Seed of the means and the draw")


class Blobs(Dataset):
    """Isotropic Gaussian clusters around random means of norm ``separation``."""

    name = "hessian-bulk-outliers-blobs"
    Config = BlobsConfig
    paper = PAPER

    def load(self, seed: int) -> Data:
        c = self.config
        rng = np.random.default_rng(c.data_seed)
        means = rng.standard_normal((c.n_classes, c.dim))
        means *= c.separation / np.linalg.norm(means, axis=1, keepdims=True)
        n = c.n_train + c.n_val
        y = rng.integers(0, c.n_classes, n)
        x = (means[y] + rng.standard_normal((n, c.dim))).astype(np.float32)
        t = torch.from_numpy
        return Data((t(x[:c.n_train]), t(y[:c.n_train])), (t(x[c.n_train:]), t(y[c.n_train:])),
                    task="classification", n_outputs=c.n_classes, input_shape=(c.dim,),
                    info={"means": means})
