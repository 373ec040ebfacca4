from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from assay import load
from assay.claims import decide
from assay.testing import execute, negative_control
from assay_hessian_bulk_outliers.claims import outliers_ignore_width, outliers_track_classes
from assay_hessian_bulk_outliers.dataset import Blobs, BlobsConfig
from assay_hessian_bulk_outliers.spectrum import count_outliers, hvp_operator, lanczos
from torch import nn
from torch.func import functional_call


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


def metrics(counts: dict[tuple[int, int], float], acc: float = 0.97) -> dict[str, float]:
    out = {f"c{c}w{w}/hessian/outliers": n for (c, w), n in counts.items()}
    out.update({f"c{c}w{w}/val/acc": acc for c, w in counts})
    out.update({"c10w32/hessian/n_params": 2.0e3, "c10w128/hessian/n_params": 2.0e4})
    return out


def seeds(*rows: tuple[float, float, float, float], acc: float = 0.97) -> list[dict[str, float]]:
    """One seed per row of counts (c4w32, c10w32, c4w128, c10w128)."""
    return [metrics(dict(zip([(4, 32), (10, 32), (4, 128), (10, 128)], row)), acc)
            for row in rows]


def _decide(check, per_seed):
    return decide([check(m) for m in per_seed])


# counts are whole numbers: five seeds with one off by one each keep the interval inside +-1
GOOD = ((4, 9, 4, 10), (4, 10, 3, 10), (4, 10, 4, 10), (5, 10, 4, 10), (4, 10, 4, 11))


def test_outliers_track_classes_decides_from_the_interval_over_seeds():
    good = seeds(*GOOD)
    assert _decide(outliers_track_classes, good).status == "PASS"
    too_few = seeds((1, 1, 1, 1), (1, 1, 2, 1), (1, 2, 1, 1))
    assert _decide(outliers_track_classes, too_few).status == "FAIL"
    noisy = seeds((4, 9, 3, 10), (4, 10, 4, 10), (4, 5, 4, 10))     # one seed far off
    assert _decide(outliers_track_classes, noisy).status == "INCONCLUSIVE"


def test_outliers_ignore_width_decides_from_the_interval_over_seeds():
    good = seeds((4, 10, 4, 10), (3, 9, 3, 9), (5, 11, 5, 11))     # counts move, widths agree
    assert _decide(outliers_ignore_width, good).status == "PASS"
    width_bound = seeds((4, 10, 4, 16), (4, 10, 4, 15), (4, 9, 4, 16))
    assert _decide(outliers_ignore_width, width_bound).status == "FAIL"
    straddles = seeds((4, 10, 4, 10), (4, 10, 4, 14))
    assert _decide(outliers_ignore_width, straddles).status == "INCONCLUSIVE"


def test_no_outliers_anywhere_makes_the_width_claim_vacuous():
    # the old rule passed this (every count 1, so no change with width); it says nothing
    none_found = seeds((1, 1, 1, 1), (4, 10, 4, 10), (4, 10, 4, 10))
    d = _decide(outliers_ignore_width, none_found)
    assert d.status == "VACUOUS" and "seed 0" in d.reason
    # one case with an outlier group is a premise: the comparison is made
    assert _decide(outliers_ignore_width, seeds((1, 1, 3, 1))).status != "VACUOUS"


def test_a_run_at_chance_makes_both_claims_invalid():
    at_chance = seeds((4, 10, 4, 10), acc=0.26)                 # 4 classes: chance 0.25
    assert _decide(outliers_track_classes, at_chance).status == "INVALID"
    assert _decide(outliers_ignore_width, seeds((1, 1, 1, 1), acc=math.nan)).status \
        == "INVALID"


@pytest.fixture
def runs(tmp_path, monkeypatch) -> str:
    """A throwaway MLflow store (sqlite) for a negative control, its artifacts beside it."""
    return str(tmp_path / "runs")


@pytest.mark.slow
def test_negative_control_four_classes_everywhere_does_not_track_classes(runs):
    """outliers-track-classes with the 10-class arms running 4-class data: the outlier counts
    can no longer follow 10 classes, so the check must not PASS."""
    out = negative_control("hessian-bulk-outliers:outliers-track-classes",
                           arms={"c10w32": "c4w32", "c10w128": "c4w128"}, seeds=3,
                           tracking_uri=runs)
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_no_outliers_to_find_is_vacuous_not_a_pass(runs):
    """outliers-ignore-width with the outlier search removed (top_k = 2: the largest-gap rule
    can only split off the top eigenvalue, so every count is 1). The old rule passed this (no
    change with width); the premise never occurred, so it must not PASS (it is VACUOUS)."""
    two = {arm: {"methods.trainer.top_k": 2} for arm in ("c4w32", "c10w32", "c4w128", "c10w128")}
    out = negative_control("hessian-bulk-outliers:outliers-ignore-width", overrides=two,
                           seeds=3, tracking_uri=runs)
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
