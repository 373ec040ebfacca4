"""The builtin dataset and model options plugins build on: digits subsets, sizes, label noise
and transforms; the linear model; cnn normalisation and residual blocks; tabular data."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from assay.lib.data import digits_arrays
from assay.testing import build


def digits(**config):
    return build("dataset", {"name": "digits", **config}).load(0)


def test_default_digits_are_the_scaled_images_unchanged():
    d = digits()
    images, labels = digits_arrays()
    assert d.input_shape == (1, 8, 8) and d.n_outputs == 10
    n = d.n_train + d.val[0].shape[0]
    assert n == len(labels)
    # every training image is one of the original images / 16, with its own label
    originals = {tuple((img / 16.0).astype(np.float32).ravel()): int(y)
                 for img, y in zip(images, labels)}
    for x, y in zip(d.train[0][:50], d.train[1][:50]):
        assert originals[tuple(x.numpy().ravel())] == int(y)


def test_a_class_subset_keeps_labels_and_outputs():
    d = digits(classes=[7, 1])
    assert set(d.train[1].tolist()) | set(d.val[1].tolist()) == {1, 7}
    assert d.n_outputs == 10 and d.info["classes"] == [1, 7]
    with pytest.raises(Exception, match="distinct digits"):
        digits(classes=[1, 1])


def test_upsampling_keeps_the_picture():
    small, big = digits(), digits(size=16)
    assert big.train[0].shape[1:] == (1, 16, 16) and big.input_shape == (1, 16, 16)
    assert torch.equal(small.train[1], big.train[1])
    down = torch.nn.functional.avg_pool2d(big.train[0], 2).flatten()
    r = torch.corrcoef(torch.stack([down, small.train[0].flatten()]))[0, 1]
    assert r > 0.95                                         # the same pictures, finer grid


def test_label_noise_flips_the_reported_training_labels_only():
    clean, noisy = digits(), digits(label_noise=0.3)
    flipped = noisy.info["flipped"]
    assert flipped.dtype == torch.bool and flipped.shape == clean.train[1].shape
    assert 0.25 < flipped.float().mean() < 0.35
    assert torch.all(noisy.train[1][flipped] != clean.train[1][flipped])
    assert torch.equal(noisy.train[1][~flipped], clean.train[1][~flipped])
    assert torch.equal(noisy.val[1], clean.val[1])
    assert torch.equal(digits(label_noise=0.3).info["flipped"], flipped)   # deterministic


@pytest.mark.parametrize("transform, expected", [
    ("rot90", lambda x: torch.rot90(x, 1, dims=(2, 3))),
    ("flip", lambda x: torch.flip(x, dims=(3,))),
    ("invert", lambda x: 1.0 - x),
])
def test_transforms_change_every_image_the_same_way(transform, expected):
    base, moved = digits(), digits(transform=transform)
    torch.testing.assert_close(moved.train[0], expected(base.train[0]))
    torch.testing.assert_close(moved.val[0], expected(base.val[0]))


def test_noise_transform_is_seeded_by_the_data_seed():
    a, b, c = digits(transform="noise"), digits(transform="noise"), digits(transform="noise",
                                                                             data_seed=1)
    assert torch.equal(a.train[0], b.train[0])
    assert not torch.equal(a.train[0][:5], c.train[0][:5])


def test_linear_model_is_one_layer_and_can_start_at_zero():
    data = digits()
    net = build("model", {"name": "linear", "init": "zeros"}).build(data)
    assert [type(m).__name__ for m in net.modules()] == ["LinearNet", "Linear"]
    assert net(data.train[0][:3]).abs().sum() == 0
    assert net.readout.weight.shape == (10, 64)


def test_cnn_batch_norm_and_residual_blocks():
    data = digits()
    torch.manual_seed(0)
    plain = build("model", {"name": "cnn", "depth": 3}).build(data)
    torch.manual_seed(0)
    res = build("model", {"name": "cnn", "depth": 3, "residual": True}).build(data)
    x = data.train[0][:4]
    assert not torch.allclose(plain(x), res(x))              # same weights, skip connections
    normed = build("model", {"name": "cnn", "norm": "batch"}).build(data)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in normed.modules()) == 2
    assert plain.norms is None


@pytest.mark.parametrize("table, task, n_features, n_out", [
    ("breast_cancer", "classification", 30, 2), ("wine", "classification", 13, 3),
    ("iris", "classification", 4, 3), ("diabetes", "regression", 10, 1),
])
def test_tabular_tables_are_standardised_on_the_training_split(table, task, n_features, n_out):
    d = build("dataset", {"name": "tabular", "table": table}).load(0)
    assert d.task == task and d.input_shape == (n_features,) and d.n_outputs == n_out
    x = d.train[0]
    torch.testing.assert_close(x.mean(0), torch.zeros(n_features), atol=1e-4, rtol=0)
    torch.testing.assert_close(x.std(0), torch.ones(n_features), atol=1e-3, rtol=0)
    if task == "regression":
        assert d.train[1].shape == (d.n_train, 1)


def test_auto_is_keyed_as_the_device_it_picks():
    import assay

    auto, cpu = assay.load({"backend": {"name": "auto"}}).run, assay.load({"backend": {"name": "cpu"}}).run
    assert auto.backend["name"] == "cpu"          # no GPU here: the run is a cpu run
    assert auto.key == cpu.key


def test_thread_count_and_determinism_are_part_of_the_run_key():
    import assay

    keys = {assay.load({"backend": {"name": "cpu", **b}}).run.key
            for b in ({}, {"threads": 2}, {"deterministic": True})}
    assert len(keys) == 3


def test_a_deterministic_run_sets_torch_deterministic_mode_and_resets_it():
    import assay
    from assay.testing import execute

    seen = []
    exp = {"backend": {"name": "cpu", "deterministic": True}, "train": {"steps": 2,
                                                                        "eval_every": 1}}
    execute(assay.load(exp).run, lambda step, m: seen.append(
        torch.are_deterministic_algorithms_enabled()) or False)
    assert seen and all(seen)
    execute(assay.load({"train": {"steps": 1, "eval_every": 1}}).run)
    assert not torch.are_deterministic_algorithms_enabled()
