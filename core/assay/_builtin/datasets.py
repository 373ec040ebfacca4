"""Built-in datasets: generated or shipped with a package, never downloaded.

Every dataset is deterministic given its config; ``data_seed`` picks the draw so that the
run seed (initialisation, batch order) and the data can be varied independently.
"""
from __future__ import annotations

import functools
import importlib.util
import math
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from assay.lib.data import digits_arrays
from assay.kinds import Config, Data, Dataset


def _split(x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int,
           n_train: int | None = None) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    perm = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(len(x) * val_fraction)))
    val, train = perm[:n_val], perm[n_val:]
    if n_train is not None:
        train = train[:n_train]
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return (t(x[train]), t(y[train])), (t(x[val]), t(y[val]))


class DigitsConfig(Config):
    val_fraction: float = Field(0.2, gt=0, lt=1, description="Share of the 1797 images held out")
    n_train: int | None = Field(None, ge=10, description="Cap on training examples (None: all)")
    data_seed: int = Field(0, ge=0, description="Seed of the train/val split")


class Digits(Dataset):
    """scikit-learn's 8x8 handwritten digits (1797 images, 10 classes), scaled to [0, 1]."""

    name = "digits"
    Config = DigitsConfig

    def load(self, seed: int) -> Data:
        c = self.config
        images, labels = digits_arrays()
        x = (images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8)
        train, val = _split(x, labels.copy(), c.val_fraction, c.data_seed, c.n_train)
        return Data(train, val, task="classification", n_outputs=10, input_shape=(1, 8, 8))


class SyntheticConfig(Config):
    n_train: int = Field(2048, ge=8, description="Training examples")
    n_val: int = Field(512, ge=8, description="Validation examples")
    dim: int = Field(32, ge=1, description="Input dimension")
    noise: float = Field(0.1, ge=0, description="Label noise (classification: flip rate; "
                                                "regression: target noise std)")
    data_seed: int = Field(0, ge=0, description="Seed of the generated data")


class SyntheticClassificationConfig(SyntheticConfig):
    n_classes: int = Field(4, ge=2, description="Number of classes")


def _teacher(rng: np.random.Generator, x: np.ndarray, n_out: int) -> np.ndarray:
    """A fixed random two-layer tanh network: a smooth, learnable, non-linear target."""
    w1 = rng.normal(size=(x.shape[1], 64)) / math.sqrt(x.shape[1])
    w2 = rng.normal(size=(64, n_out)) / 8.0
    return np.tanh(x @ w1) @ w2


class SyntheticClassification(Dataset):
    """Gaussian inputs labelled by the argmax of a random teacher network."""

    name = "synthetic-classification"
    Config = SyntheticClassificationConfig

    def load(self, seed: int) -> Data:
        c = self.config
        rng = np.random.default_rng(c.data_seed)
        n = c.n_train + c.n_val
        x = rng.normal(size=(n, c.dim)).astype(np.float32)
        y = _teacher(rng, x, c.n_classes).argmax(1)
        flip = rng.random(n) < c.noise
        y[flip] = rng.integers(0, c.n_classes, flip.sum())
        train, val = _split(x, y.astype(np.int64), c.n_val / n, c.data_seed)
        return Data(train, val, task="classification", n_outputs=c.n_classes,
                    input_shape=(c.dim,))


class SyntheticRegressionConfig(SyntheticConfig):
    n_targets: int = Field(1, ge=1, description="Output dimension")


class SyntheticRegression(Dataset):
    """Gaussian inputs, targets from a random teacher network plus Gaussian noise."""

    name = "synthetic-regression"
    Config = SyntheticRegressionConfig

    def load(self, seed: int) -> Data:
        c = self.config
        rng = np.random.default_rng(c.data_seed)
        n = c.n_train + c.n_val
        x = rng.normal(size=(n, c.dim)).astype(np.float32)
        y = _teacher(rng, x, c.n_targets) * 4.0
        y = (y + c.noise * rng.normal(size=y.shape)).astype(np.float32)
        train, val = _split(x, y, c.n_val / n, c.data_seed)
        return Data(train, val, task="regression", n_outputs=c.n_targets, input_shape=(c.dim,))


class ModularConfig(Config):
    p: int = Field(97, ge=2, le=1000, description="Modulus (prime for division)")
    op: Literal["add", "sub", "mul", "div"] = Field("add", description="a op b mod p")
    train_fraction: float = Field(0.3, gt=0, lt=1, description="Share of all p*p pairs trained on")
    data_seed: int = Field(0, ge=0, description="Seed of the train/val split")


class ModularArithmetic(Dataset):
    """All pairs (a, b) labelled with (a op b) mod p, as concatenated one-hot vectors: the
    grokking task (Power et al., 2022)."""

    name = "modular-arithmetic"
    Config = ModularConfig

    def load(self, seed: int) -> Data:
        c = self.config
        a, b = np.meshgrid(np.arange(c.p), np.arange(c.p), indexing="ij")
        a, b = a.ravel(), b.ravel()
        if c.op == "div":
            keep = b != 0
            a, b = a[keep], b[keep]
            y = (a * np.array([pow(int(v), c.p - 2, c.p) for v in b])) % c.p
        else:
            y = {"add": a + b, "sub": a - b, "mul": a * b}[c.op] % c.p
        x = np.zeros((len(a), 2 * c.p), np.float32)
        x[np.arange(len(a)), a] = 1
        x[np.arange(len(a)), c.p + b] = 1
        train, val = _split(x, y.astype(np.int64), 1 - c.train_fraction, c.data_seed)
        return Data(train, val, task="classification", n_outputs=c.p, input_shape=(2 * c.p,))


class BytesConfig(Config):
    path: str | None = Field(None, description="UTF-8/binary text file (None: the small text "
                                               "shipped with assay)")
    seq_len: int = Field(64, ge=2, le=4096, description="Tokens per example")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="Tail of the file held out")


class Bytes(Dataset):
    """Byte-level language modelling: windows of a file, vocabulary of 256 byte values."""

    name = "bytes"
    Config = BytesConfig

    def load(self, seed: int) -> Data:
        c = self.config
        raw = (Path(c.path).read_bytes() if c.path else
               resources.files("assay._builtin").joinpath("data/tiny.txt").read_bytes())
        tokens = torch.frombuffer(bytearray(raw), dtype=torch.uint8).long()
        cut = int(len(tokens) * (1 - c.val_fraction))

        def windows(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            n = (len(t) - 1) // c.seq_len
            if n < 1:
                raise ValueError(f"text too short for seq_len={c.seq_len}")
            idx = torch.arange(n)[:, None] * c.seq_len + torch.arange(c.seq_len)
            return t[idx], t[idx + 1]  # (N, T) inputs and next-byte targets

        return Data(windows(tokens[:cut]), windows(tokens[cut:]), task="lm", n_outputs=256,
                    input_shape=(c.seq_len,))


DATASETS = [Digits, SyntheticClassification, SyntheticRegression, ModularArithmetic, Bytes]
