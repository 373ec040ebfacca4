"""A mixture of Gaussian clusters, one per class: the data family in which the paper varies
the number of clusters (arXiv:1706.04454, Sec. 3)."""
from __future__ import annotations

import numpy as np
import torch
from assay import Data, Dataset

from assay_hessian_bulk_outliers.config import BlobsConfig

from .spectrum import PAPER


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
