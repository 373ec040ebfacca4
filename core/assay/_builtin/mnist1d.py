"""MNIST-1D: a procedurally generated 1-D analogue of MNIST (Greydanus, 2020).

Each example starts from one of ten hand-drawn 12-point templates (one per digit) and goes
through the same random pipeline: pad with zeros and stretch, scale, translate (circularly),
fill the background with correlated noise, add white noise, shear, and resample to 40
points. Small models separate clearly on it (a linear model < an MLP < a CNN), which is what
makes it a good laptop-scale benchmark.

Why not the ``mnist1d`` package: its generator loops over examples in Python (scipy
``interp1d`` per example, about 2 ms each, so 5-10 s per dataset on a shared CPU), it reseeds
numpy's global random state and imports matplotlib.pyplot. This module follows the same
generative process, vectorised over examples (a few milliseconds per dataset) and driven by
its own ``numpy.random.Generator``, so draws are not bit-identical to the published pickle.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from assay._builtin.configs import MNIST1DConfig
from assay.kinds import Data, Dataset, Paper

# The ten digit templates of the MNIST-1D paper (12 points each; digit d is row d).
_TEMPLATES = np.array([
    [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
    [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
    [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
    [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
    [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
    [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
    [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
    [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
])

# The paper's default transformation strengths.
_PAD = (36, 60)             # zeros appended to the 12-point template (uniform integer)
_SCALE = 0.4                # amplitude factor drawn from 1 +- SCALE/2
_MAX_SHIFT = 48             # circular translation in [0, MAX_SHIFT)
_CORR_NOISE = 0.25          # std of the background noise before smoothing
_IID_NOISE = 0.02           # std of the white noise added everywhere
_SHEAR = 0.75               # slope of the linear trend drawn from +- SHEAR/2
_LENGTH = 40                # points per final example


def _templates() -> np.ndarray:
    """Templates whitened per digit, starting and ending at 0, scaled by 1/6."""
    x = _TEMPLATES - _TEMPLATES.mean(1, keepdims=True)
    x = x / x.std(1, keepdims=True)
    return (x - x[:, :1]) / 6.0                                  # (10, 12)


def _resample(x: np.ndarray, length: np.ndarray | int, n: int) -> np.ndarray:
    """Linear resampling of each row's first ``length`` points to ``n`` evenly spaced points."""
    length = np.broadcast_to(np.asarray(length), (x.shape[0],))
    pos = np.linspace(0, 1, n)[None, :] * (length[:, None] - 1)  # (N, n) fractional indices
    lo = np.clip(np.floor(pos).astype(np.int64), 0, length[:, None] - 2)
    frac = pos - lo
    rows = np.arange(x.shape[0])[:, None]
    return x[rows, lo] * (1 - frac) + x[rows, lo + 1] * frac


def generate(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One unnormalised MNIST-1D signal per label: (N,) int -> (N, 40) float64."""
    from scipy.ndimage import gaussian_filter1d  # lazy: keeps `import assay` cheap

    n, t_len, width = len(labels), _TEMPLATES.shape[1], _TEMPLATES.shape[1] + _PAD[1]
    # pad with p zeros, then stretch the 12+p points to a fixed 72 (the digit's width varies)
    padded = np.zeros((n, width))
    padded[:, :t_len] = _templates()[labels] + 1e-8              # nonzero marks the digit
    p = rng.integers(_PAD[0], _PAD[1] + 1, n)
    x = _resample(padded, t_len + p, width)
    x *= 1 + _SCALE * (rng.random(n)[:, None] - 0.5)
    shift = rng.integers(0, _MAX_SHIFT, n)
    x = x[np.arange(n)[:, None], (np.arange(width)[None, :] - shift[:, None]) % width]
    # background (exact zeros) gets smooth noise; everything gets a little white noise
    corr = gaussian_filter1d(_CORR_NOISE * rng.standard_normal((n, width)), 2, axis=1)
    x = np.where(x != 0, x, corr) + _IID_NOISE * rng.standard_normal((n, width))
    x -= _SHEAR * (rng.random(n)[:, None] - 0.5) * np.linspace(-0.5, 0.5, width)[None, :]
    return _resample(x, width, _LENGTH)


class MNIST1D(Dataset):
    """MNIST-1D (Greydanus, 2020), generated in memory: (40,) float inputs, 10 classes."""

    name = "mnist1d"
    Config = MNIST1DConfig
    paper = Paper(title="Scaling Down Deep Learning with MNIST-1D", arxiv="2011.14439",
                  year=2020)

    def load(self, seed: int) -> Data:
        c = self.config
        rng = np.random.default_rng(c.data_seed)
        keep = np.array(sorted(c.classes) if c.classes is not None else range(10))
        # Draw a balanced set over all ten digits and normalise with its statistics, so that
        # inputs are scaled the same whichever subset of classes is kept.
        per_class = math.ceil((c.n_train + c.n_val) / len(keep))
        labels = rng.permutation(np.repeat(np.arange(10), per_class))
        x = generate(labels, rng)
        x = (x - x.mean()) / x.std()
        if c.shuffle_seq:
            x = x[:, rng.permutation(_LENGTH)]
        chosen = np.flatnonzero(np.isin(labels, keep))[: c.n_train + c.n_val]
        x = torch.from_numpy(x[chosen].astype(np.float32))
        y = torch.from_numpy(labels[chosen].astype(np.int64))
        return Data((x[:c.n_train], y[:c.n_train]), (x[c.n_train:], y[c.n_train:]),
                    task="classification", n_outputs=10, input_shape=(_LENGTH,),
                    info={"classes": keep.tolist()})
