"""Data building blocks for plugins: the arrays behind the builtin datasets (public)."""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

__all__ = ["digits_arrays"]


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
