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
from typing import Any

import numpy as np
import torch

from assay.lib.data import LinearTeacher, digits_arrays
from assay._builtin.configs import (
    BytesConfig,
    DigitsConfig,
    ModularConfig,
    SyntheticClassificationConfig,
    SyntheticRegressionConfig,
    TabularConfig,
)
from assay.kinds import Data, Dataset


def _split(x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int,
           n_train: int | None = None) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    perm = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(len(x) * val_fraction)))
    val, train = perm[:n_val], perm[n_val:]
    if n_train is not None:
        train = train[:n_train]
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return (t(x[train]), t(y[train])), (t(x[val]), t(y[val]))


def flip_labels(y: torch.Tensor, rate: float, classes: list[int],
                gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace a ``rate`` share of labels (each independently) by a different class from
    ``classes``, uniformly; return the new labels and the mask of flipped examples."""
    flipped = torch.rand(len(y), generator=gen) < rate
    kept = torch.tensor(classes)
    out = y.clone()
    for i in flipped.nonzero().flatten().tolist():
        others = kept[kept != y[i]]
        out[i] = others[torch.randint(len(others), (1,), generator=gen)]
    return out, flipped


class Digits(Dataset):
    """scikit-learn's 8x8 handwritten digits (1797 images, 10 classes), scaled to [0, 1];
    optionally a subset of classes, upsampled, with label noise or a fixed transform."""

    name = "digits"
    Config = DigitsConfig

    def load(self, seed: int) -> Data:
        c = self.config
        images, labels = digits_arrays()
        x = (images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8)
        y = labels.copy()
        classes = sorted(c.classes) if c.classes is not None else list(range(10))
        if c.classes is not None:
            keep = np.isin(y, classes)
            x, y = x[keep], y[keep]
        train, val = _split(x, y, c.val_fraction, c.data_seed, c.n_train)
        info: dict[str, Any] = {"classes": classes}
        gen = torch.Generator().manual_seed(c.data_seed + 7_919)
        if c.label_noise > 0:
            noisy, info["flipped"] = flip_labels(train[1], c.label_noise, classes, gen)
            train = (train[0], noisy)
        train, val = ((self._images(t[0], gen), t[1]) for t in (train, val))
        return Data(train, val, task="classification", n_outputs=10,
                    input_shape=(1, c.size, c.size), info=info)

    def _images(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        c = self.config
        if c.size != 8:
            x = torch.nn.functional.interpolate(x, size=(c.size, c.size), mode="bilinear",
                                                align_corners=False)
        if c.transform == "rot90":
            x = torch.rot90(x, 1, dims=(2, 3))
        elif c.transform == "flip":
            x = torch.flip(x, dims=(3,))
        elif c.transform == "invert":
            x = 1.0 - x
        elif c.transform == "noise":
            x = x + c.noise_std * torch.randn(x.shape, generator=gen)
        return x.contiguous()


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


class Tabular(Dataset):
    """A small tabular data set shipped with scikit-learn, features standardised with the
    training split's mean and standard deviation: breast_cancer (569 rows, 30 features, 2
    classes), wine (178, 13, 3), iris (150, 4, 3) or diabetes (442, 10, regression; targets
    standardised too)."""

    name = "tabular"
    Config = TabularConfig

    def load(self, seed: int) -> Data:
        from sklearn import datasets as sk   # ~1 s to import: only runs that use it pay

        c = self.config
        raw = getattr(sk, f"load_{c.table}")()
        x = raw.data.astype(np.float32)
        regression = c.table == "diabetes"
        y = raw.target.astype(np.float32 if regression else np.int64)
        (xt, yt), (xv, yv) = _split(x, y, c.val_fraction, c.data_seed)
        mean, std = xt.mean(0), xt.std(0).clamp_min(1e-8)
        xt, xv = (xt - mean) / std, (xv - mean) / std
        if regression:
            m, s = yt.mean(), yt.std()
            yt, yv = ((yt - m) / s)[:, None], ((yv - m) / s)[:, None]
            return Data((xt, yt), (xv, yv), task="regression", n_outputs=1,
                        input_shape=(x.shape[1],), info={"target_mean": float(m),
                                                          "target_std": float(s)})
        return Data((xt, yt), (xv, yv), task="classification",
                    n_outputs=int(raw.target.max()) + 1, input_shape=(x.shape[1],))


DATASETS = [Digits, SyntheticClassification, SyntheticRegression, ModularArithmetic, Bytes,
            Tabular, LinearTeacher]
