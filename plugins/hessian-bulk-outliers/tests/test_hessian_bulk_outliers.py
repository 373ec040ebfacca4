from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from assay import load
from assay.testing import execute
from assay_hessian_bulk_outliers.claims import outliers_ignore_width, outliers_track_classes
from assay_hessian_bulk_outliers.dataset import Blobs, BlobsConfig
from assay_hessian_bulk_outliers.spectrum import count_outliers, hvp_operator, lanczos


def explicit_hessian(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss(flat: torch.Tensor) -> torch.Tensor:
        parts, i = {}, 0
        for name, shape in zip(names, shapes):
            parts[name] = flat[i:i + shape.numel()].view(shape)
            i += shape.numel()
        return F.cross_entropy(functional_call(model, parts, (x,)), y)

    return torch.autograd.functional.hessian(loss, flat0)


def test_hvp_equals_explicit_hessian_times_vector():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 3))      # 38 params
    x, y = torch.randn(20, 3), torch.randint(3, (20,))
    h = explicit_hessian(model, x, y).double()
    matvec = hvp_operator(lambda: F.cross_entropy(model(x), y), list(model.parameters()))
    v = torch.randn(h.shape[0], dtype=torch.float64)
    torch.testing.assert_close(matvec(v), h @ v, rtol=1e-4, atol=1e-6)


def test_lanczos_top_eigenvalues_match_eigvalsh_of_the_explicit_hessian():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))      # 51 params
    x, y = torch.randn(40, 4), torch.randint(3, (40,))
    exact = torch.linalg.eigvalsh(explicit_hessian(model, x, y).double()).flip(0)
    matvec = hvp_operator(lambda: F.cross_entropy(model(x), y), list(model.parameters()))
    ritz = lanczos(matvec, 51, 40, torch.Generator().manual_seed(0)).flip(0)
    torch.testing.assert_close(ritz[:5], exact[:5], rtol=1e-4, atol=1e-6)


def test_lanczos_on_a_known_diagonal_operator():
    d = torch.cat([torch.tensor([50.0, 20.0, 10.0]), torch.linspace(0, 1, 297)]).double()
    ritz = lanczos(lambda v: d * v, 300, 60, torch.Generator().manual_seed(0)).flip(0)
    torch.testing.assert_close(ritz[:3], torch.tensor([50.0, 20.0, 10.0], dtype=torch.float64))


def test_count_outliers_splits_at_the_largest_relative_gap():
    assert count_outliers([100, 90, 80, 5, 4, 3]) == (3, 16.0)
    assert count_outliers([3, 100, 4, 90, 80, 5])[0] == 3          # order does not matter
    assert count_outliers([10, 1, 0.9, 0.8])[0] == 1
    n, gap = count_outliers([8, 4, 2, 1e-12])                       # near-zero tail ignored
    assert (n, gap) == (1, 2.0)


def test_blobs_have_one_cluster_per_class():
    data = Blobs(BlobsConfig(n_classes=5, dim=20, separation=6.0, n_train=2000)).load(seed=0)
    x, y = data.train
    means = torch.stack([x[y == c].mean(0) for c in range(5)])
    norms = means.norm(dim=1)
    assert ((norms - 6.0).abs() < 0.6).all()                        # cluster centres
    nearest = torch.cdist(x, means).argmin(1)
    assert (nearest == y).float().mean() > 0.95
    assert data.n_outputs == 5 and data.input_shape == (20,)


def test_end_to_end_run_records_a_spectrum():
    result = execute(load({
        "dataset": {"name": "hessian-bulk-outliers-blobs", "n_classes": 3, "n_train": 200},
        "model": {"name": "mlp", "width": 16, "depth": 1},
        "methods": {"trainer": {"name": "hessian-bulk-outliers", "top_k": 8,
                                "lanczos_iters": 30, "n_examples": 100},
                    "optimizer": {"name": "adamw", "lr": 1e-2}},
        "backend": {"name": "cpu", "threads": 1},
        "train": {"steps": 40, "batch_size": 32, "eval_every": 20}}).run)
    assert result.status == "finished", result.error
    m = result.metrics
    eigs = [m[f"hessian/eig_{i}"] for i in range(1, 9)]
    assert eigs == sorted(eigs, reverse=True) and eigs[0] > 0
    assert 1 <= m["hessian/outliers"] <= 7 and m["hessian/n_params"] == 20 * 16 + 16 + 16 * 3 + 3
    assert math.isclose(m["hessian/bulk_edge"], eigs[int(m["hessian/outliers"])])


def metrics(counts: dict[tuple[int, int], float]) -> dict[str, float]:
    out = {f"c{c}w{w}/hessian/outliers": n for (c, w), n in counts.items()}
    out.update({"c10w32/hessian/n_params": 2.0e3, "c10w128/hessian/n_params": 2.0e4})
    return out


def test_checks_pass_and_fail_on_made_up_numbers():
    good = metrics({(4, 32): 4, (10, 32): 9, (4, 128): 3, (10, 128): 10})
    assert outliers_track_classes(good).passed and outliers_ignore_width(good).passed
    width_bound = metrics({(4, 32): 4, (10, 32): 10, (4, 128): 4, (10, 128): 16})
    assert not outliers_track_classes(width_bound).passed
    assert not outliers_ignore_width(width_bound).passed
    too_few = metrics({(4, 32): 1, (10, 32): 1, (4, 128): 1, (10, 128): 1})
    assert not outliers_track_classes(too_few).passed and outliers_ignore_width(too_few).passed
