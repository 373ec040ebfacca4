"""Data building blocks for plugins (public): the arrays behind the builtin datasets, and
the linear teacher (a builtin dataset, ``linear-teacher``, that plugins may subclass).

Whitening (the training inputs have exactly identity second moment) is the setting of Saxe et
al. (arXiv:1312.6120, Sec. 2: Sigma_11 = I): gradient-descent dynamics then decouple into
one mode per singular value of the teacher.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import torch

from assay.kinds import Data, Dataset
from assay.lib.configs import LinearTeacherConfig

__all__ = ["LinearTeacher", "LinearTeacherConfig", "digits_arrays", "teacher", "whiten"]


@functools.cache
def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as ``(images (1797, 8, 8) float64 in 0..16, labels int64)``,
    the arrays ``sklearn.datasets.load_digits()`` returns, read straight from the CSV that
    scikit-learn ships. Importing ``sklearn.datasets`` costs ~2 s of CPU in every process
    that trains on digits (a sweep worker, a claim run), reading the file ~0.1 s. Falls back
    to scikit-learn if the file has moved. Read-only: copy before changing them."""
    spec = importlib.util.find_spec("sklearn")
    try:
        folder = Path(next(iter(spec.submodule_search_locations or ())))  # type: ignore[union-attr]
        data = np.loadtxt(folder / "datasets" / "data" / "digits.csv.gz", delimiter=",")
        images, labels = data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)
    except (AttributeError, OSError, StopIteration, ValueError):
        from sklearn.datasets import load_digits

        raw = load_digits()
        images, labels = raw.images, raw.target.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def teacher(c: LinearTeacherConfig, rng: np.random.Generator) -> np.ndarray:
    """W* = U diag(s) V^T with random orthonormal U, V; shape (out_dim, in_dim)."""
    rank = len(c.singular_values)
    if rank > min(c.in_dim, c.out_dim):
        raise ValueError(f"{rank} singular values do not fit a {c.out_dim}x{c.in_dim} map")
    u, _ = np.linalg.qr(rng.standard_normal((c.out_dim, rank)))
    v, _ = np.linalg.qr(rng.standard_normal((c.in_dim, rank)))
    return (u * np.asarray(c.singular_values)) @ v.T


def whiten(x: np.ndarray) -> np.ndarray:
    """Rescale rows so that x^T x / n = I."""
    cov = x.T @ x / len(x)
    vals, vecs = np.linalg.eigh(cov)
    return x @ (vecs / np.sqrt(vals)) @ vecs.T


class LinearTeacher(Dataset):
    """Gaussian (optionally whitened) inputs labelled by a fixed low-rank linear map."""

    name = "linear-teacher"
    Config = LinearTeacherConfig

    def rng(self, seed: int) -> np.random.Generator:
        """The generator the teacher and the inputs are drawn from (see ``per_seed``)."""
        c = self.config
        return np.random.default_rng([c.data_seed, seed] if c.per_seed else c.data_seed)

    def load(self, seed: int) -> Data:
        c = self.config
        rng = self.rng(seed)
        w = teacher(c, rng)
        x_tr = rng.standard_normal((c.n_train, c.in_dim))
        if c.whiten:
            x_tr = whiten(x_tr)
        x_va = rng.standard_normal((c.n_val, c.in_dim))
        split = []
        for x in (x_tr, x_va):
            y = x @ w.T + c.noise * rng.standard_normal((len(x), c.out_dim))
            split.append((torch.from_numpy(x.astype(np.float32)),
                          torch.from_numpy(y.astype(np.float32))))
        return Data(split[0], split[1], task="regression", n_outputs=c.out_dim,
                    input_shape=(c.in_dim,), info={"teacher": w})
