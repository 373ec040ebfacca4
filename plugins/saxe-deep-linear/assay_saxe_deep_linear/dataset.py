"""A linear teacher y = W* x (+ noise) with chosen singular values, on whitened inputs.

Whitening (the training inputs have exactly identity second moment) is the paper's setting
(arXiv:1312.6120, Sec. 2: Sigma_11 = I): the dynamics then decouple into one mode per
singular value of W*.
"""
from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from assay import Config, Data, Dataset

from .model import PAPER


class LinearTeacherConfig(Config):
    """Paper: https://arxiv.org/abs/1312.6120 - learning a fixed linear map."""

    n_train: int = Field(256, ge=2, le=1_000_000, description="Training examples")
    n_val: int = Field(256, ge=2, le=1_000_000, description="Validation examples")
    in_dim: int = Field(32, ge=1, le=4096, description="Input dimension")
    out_dim: int = Field(32, ge=1, le=4096, description="Output dimension")
    singular_values: list[float] = Field([3.0, 2.0, 1.0, 0.5, 0.25], min_length=1,
                                         description="Singular values of W* (its rank)")
    noise: float = Field(0.0, ge=0, description="Std of Gaussian noise added to targets")
    whiten: bool = Field(True, description="Make the training inputs' second moment exactly I")
    data_seed: int = Field(0, ge=0, description="Seed of the teacher and the inputs")


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

    name = "saxe-deep-linear-teacher"
    Config = LinearTeacherConfig
    paper = PAPER

    def load(self, seed: int) -> Data:
        c = self.config
        rng = np.random.default_rng(c.data_seed)
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
