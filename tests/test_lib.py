"""The public building blocks in assay.lib, checked against direct computations."""
from __future__ import annotations

import torch
from torch import nn

from assay.lib import hessian, pruning
from assay.lib.optimum import grid_at_edge, grid_optimum


def _tiny() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    return model, torch.randn(16, 3), torch.randint(0, 2, (16,))


def test_hvp_and_lanczos_match_the_explicit_hessian():
    model, x, y = _tiny()
    params = [p for p in model.parameters()]
    loss = lambda: nn.functional.cross_entropy(model(x), y)  # noqa: E731
    n = sum(p.numel() for p in params)
    matvec = hessian.hvp_operator(loss, params)
    h = torch.stack([matvec(e) for e in torch.eye(n, dtype=torch.float64)])
    torch.testing.assert_close(h, h.T, atol=1e-6, rtol=1e-5)            # symmetric
    exact = torch.linalg.eigvalsh(h)
    ritz = hessian.lanczos(matvec, n, iters=n, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ritz[-3:], exact[-3:], atol=1e-6, rtol=1e-5)


def test_per_example_grads_equal_a_loop_over_examples():
    model, x, y = _tiny()
    loss_fn = nn.functional.cross_entropy
    grads = hessian.per_example_grads(model, loss_fn, x[:5], y[:5])
    for i in range(5):
        model.zero_grad()
        loss_fn(model(x[i:i + 1]), y[i:i + 1]).backward()
        for name, p in model.named_parameters():
            torch.testing.assert_close(grads[name][i], p.grad)


def test_magnitude_masks_per_layer_and_global():
    params = {"a": torch.tensor([[0.1, -3.0], [0.2, 4.0]]), "b": torch.tensor([5.0, 6.0, 0.01, 7.0])}
    layer = pruning.magnitude_masks(params, 0.5, "layer")
    assert layer["a"].tolist() == [[False, True], [False, True]]
    assert layer["b"].tolist() == [False, True, False, True]      # keeps 6 and 7
    glob = pruning.magnitude_masks(params, 0.5, "global")
    assert sum(int(m.sum()) for m in glob.values()) == 4 and not glob["a"][0, 0]
    pruning.apply_masks(params, layer)
    assert pruning.sparsity(params) == 0.5


def test_the_one_optimum_estimator_finds_an_interior_parabola_vertex():
    pts = [(lr, (torch.log(torch.tensor(lr)) - torch.log(torch.tensor(3e-3))).item() ** 2)
           for lr in (1e-4, 1e-3, 1e-2, 1e-1)]
    assert abs(grid_optimum(pts) / 3e-3 - 1) < 0.05
    assert not grid_at_edge(pts)
    assert grid_at_edge([(1e-4, 0.1), (1e-3, 0.2), (1e-2, 0.3)])


def test_full_batch_trainer_takes_exact_gradient_steps_and_runs_other_methods_hooks():
    import assay
    from assay.lib.trainers import FullBatchTrainer
    from assay.testing import build_context

    class GD(FullBatchTrainer):
        name = "test-full-batch"

    exp = {"dataset": {"name": "linear-teacher", "in_dim": 4, "out_dim": 2,
                       "singular_values": [1.0], "n_train": 16, "n_val": 8},
           "model": {"name": "linear", "bias": False},
           "methods": {"optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0}},
           "train": {"steps": 3, "eval_every": 1}}
    ctx = build_context(assay.load(exp).run)
    ctx.optimizer = ctx.methods["optimizer"].build(ctx.param_groups)
    x, y = ctx.data.train
    w = ctx.model.readout.weight.detach().clone()
    for _ in range(3):                                   # the same three steps by hand
        grad = 2 * ((x @ w.T - y).T @ x) / y.numel()
        w = w - 0.1 * grad
    calls = []
    ctx.methods["probe"] = type("Probe", (assay.Method,), {
        "after_step": lambda self, c, step: calls.append(step)})()
    GD().train(ctx)
    torch.testing.assert_close(ctx.model.readout.weight.detach(), w)
    assert calls == [1, 2, 3]
    assert [s for s, _ in ctx.history] == [1, 2, 3]
