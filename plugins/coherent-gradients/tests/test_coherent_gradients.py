from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, build_context, execute, load_yaml, negative_control
from assay_coherent_gradients.claims import (
    CLAIMS,
    m3_suppresses_memorisation,
    real_more_coherent,
)
from assay_coherent_gradients.method import (
    CoherentGradients,
    CoherentGradientsConfig,
    m_coherence,
    median_of_means,
    memorisation,
)
from torch import nn

# --- the two instruments, by hand ---------------------------------------------------------------


def test_m_coherence_by_hand():
    assert m_coherence(torch.ones(5, 3)) == pytest.approx(5.0)            # identical: m
    assert m_coherence(torch.eye(4)) == pytest.approx(1.0)                # orthogonal: 1
    assert m_coherence(torch.tensor([[1.0, 2.0], [-1.0, -2.0]])) == 0.0   # cancelling: 0
    # rows (1, 0), (1, 1): mean (1, 0.5), |mean|^2 = 1.25, mean |g|^2 = 1.5 -> 2 * 1.25 / 1.5
    assert m_coherence(torch.tensor([[1.0, 0.0], [1.0, 1.0]])) == pytest.approx(5 / 3)
    assert math.isnan(m_coherence(torch.zeros(3, 2)))


def test_median_of_means_is_coordinatewise():
    groups = [[torch.tensor([1.0, 9.0]), torch.tensor([[0.0]])],
              [torch.tensor([5.0, -1.0]), torch.tensor([[7.0]])],
              [torch.tensor([3.0, 4.0]), torch.tensor([[2.0]])]]
    med = median_of_means(groups)
    torch.testing.assert_close(med[0], torch.tensor([3.0, 4.0]))
    torch.testing.assert_close(med[1], torch.tensor([[2.0]]))


def test_even_group_counts_are_refused():
    with pytest.raises(ValueError, match="odd"):
        CoherentGradientsConfig(groups=2)


# --- the trainer against the paper's rules, by hand ---------------------------------------------


def _exp(trainer: dict, steps: int = 1, lr: float = 0.5, data: dict | None = None) -> dict:
    return {"dataset": data or {"name": "synthetic-classification", "n_train": 64, "n_val": 32,
                                "dim": 5, "n_classes": 3},
            "model": {"name": "linear"},
            "methods": {"trainer": {"name": "coherent-gradients", **trainer},
                        "optimizer": {"name": "sgd", "lr": lr, "momentum": 0.0}},
            "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 12, "eval_every": 1}}


def _context(exp: dict):
    ctx = build_context(load(exp).run)
    ctx.optimizer = ctx.methods["optimizer"].build(ctx.param_groups)
    return ctx


def test_an_m3_step_follows_the_median_of_three_group_mean_gradients():
    ctx = _context(_exp({"groups": 3, "coherence_every": 0}))
    start = [p.detach().clone() for p in ctx.model.parameters()]
    state = ctx.generator.get_state()
    x, y = ctx.batch()                         # the batch the step will draw
    ctx.generator.set_state(state)
    means = []
    for xg, yg in zip(x.split(4), y.split(4)):  # 12 examples: groups of 4
        loss = nn.functional.cross_entropy(ctx.model(xg), yg)
        means.append(torch.autograd.grad(loss, list(ctx.model.parameters())))
    want = [p - 0.5 * torch.stack(g).median(0).values for p, g in zip(start, zip(*means))]
    CoherentGradients(CoherentGradientsConfig(groups=3, coherence_every=0)).train(ctx)
    for p, w in zip(ctx.model.parameters(), want):
        torch.testing.assert_close(p.detach(), w)
    plain = [p - 0.5 * sum(g) / 3 for p, g in zip(start, zip(*means))]
    assert not all(torch.allclose(p.detach(), w) for p, w in zip(ctx.model.parameters(), plain))


def test_one_group_is_exactly_the_standard_loop():
    ours = execute(load(_exp({"groups": 1, "coherence_every": 5}, steps=15, lr=0.1)).run)
    exp = _exp({}, steps=15, lr=0.1)
    del exp["methods"]["trainer"]
    standard = execute(load(exp).run)
    assert ours.status == standard.status == "finished", (ours.error, standard.error)
    assert [m["val/loss"] for _, m in ours.history] == [m["val/loss"] for _, m in
                                                         standard.history]


def test_coherence_matches_a_loop_over_single_examples():
    ctx = _context(_exp({"coherence_m": 10}))
    x, y = ctx.data.train[0][:10], ctx.data.train[1][:10]
    rows = []
    for i in range(10):
        loss = nn.functional.cross_entropy(ctx.model(x[i:i + 1]), y[i:i + 1])
        rows.append(torch.cat([g.flatten() for g in torch.autograd.grad(
            loss, list(ctx.model.parameters()))]))
    want = m_coherence(torch.stack(rows))
    assert CoherentGradients.coherence(ctx, x, y) == pytest.approx(want, rel=1e-5)
    assert 1.0 < want < 10.0


def test_memorisation_counts_fitted_flipped_labels():
    class Fixed(nn.Module):                    # predicts the first input coordinate
        def forward(self, x):
            return nn.functional.one_hot(x[:, 0].long(), 3).float()

    x = torch.tensor([[0.0], [1.0], [2.0], [1.0]])
    y = torch.tensor([0, 2, 2, 1])             # examples 1 and 3 were flipped; 3 is fitted
    flipped = torch.tensor([False, True, False, True])
    out = memorisation(Fixed(), x, y, flipped, torch.device("cpu"))
    assert out == {"memo/flipped_fit": 0.5, "memo/clean_fit": 1.0, "memo/n_flipped": 2.0}


def test_a_noisy_digits_run_records_coherence_and_memorisation():
    exp = _exp({"groups": 3, "coherence_every": 10, "coherence_until": 20, "coherence_m": 32},
               steps=30, lr=0.1, data={"name": "digits", "label_noise": 0.5})
    exp["model"] = {"name": "mlp", "width": 32, "depth": 1}
    result = execute(load(exp).run)
    assert result.status == "finished", result.error
    m = result.metrics
    assert {f"coherence/alpha_m/{s}" for s in (0, 10, 20)} <= set(m)
    assert "coherence/alpha_m/30" not in m and m["coherence/m"] == 32
    assert m["coherence/mean"] == pytest.approx(
        sum(m[f"coherence/alpha_m/{s}"] for s in (0, 10, 20)) / 3)
    assert 0 <= m["memo/flipped_fit"] <= 1 and 600 < m["memo/n_flipped"] < 850


class TestCoherentGradientsContract(MethodContract):
    @pytest.fixture
    def component(self):
        return CoherentGradients


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_coherent_gradients").joinpath(arm))).run
    assert run.methods["optimizer"] == {"name": "sgd", "lr": 0.1, "momentum": 0.0,
                                        "nesterov": False, "weight_decay": 0.0}


# --- the checks on made-up numbers --------------------------------------------------------------


def _coherence(real: float, rand: float = 2.0, acc: float = 0.9) -> dict[str, float]:
    return {"true/coherence/mean": real, "random/coherence/mean": rand, "true/val/acc": acc,
            "true/coherence/m": 128.0, "random/val/acc": 0.1}


def _memo(m3: float, sgd: float = 0.9, acc_sgd: float = 0.80, acc_m3: float = 0.85,
          ) -> dict[str, float]:
    return {"sgd/memo/flipped_fit": sgd, "m3/memo/flipped_fit": m3, "sgd/val/acc": acc_sgd,
            "m3/val/acc": acc_m3, "sgd/memo/clean_fit": 1.0, "m3/memo/clean_fit": 0.95}


def test_coherence_check_decides_from_the_interval_over_seeds():
    assert decide([real_more_coherent(_coherence(r)) for r in (9, 10, 11)]).status == "PASS"
    assert decide([real_more_coherent(_coherence(r)) for r in (3, 3.5, 4)]).status == "FAIL"
    assert decide([real_more_coherent(_coherence(r)) for r in (3, 9, 14)]).status \
        == "INCONCLUSIVE"
    at_chance = [real_more_coherent(_coherence(10, acc=0.12))] * 3
    assert decide(at_chance).status == "INVALID"
    broken = [real_more_coherent(_coherence(10, rand=math.nan))] * 3
    assert decide(broken).status == "INVALID"


def test_memorisation_check_decides_and_guards():
    assert decide([m3_suppresses_memorisation(_memo(v)) for v in (.3, .35, .4)]).status == "PASS"
    assert decide([m3_suppresses_memorisation(_memo(v)) for v in (.8, .85, .82)]).status \
        == "FAIL"
    costly = [m3_suppresses_memorisation(_memo(.3, acc_m3=0.7))] * 3   # 10 pts of clean acc
    assert decide(costly).status == "FAIL"
    diverged = [m3_suppresses_memorisation(_memo(.3, acc_sgd=math.nan))] * 3
    assert decide(diverged).status == "INVALID"
    little = [m3_suppresses_memorisation(_memo(0.0, sgd=0.15))] * 3
    assert decide(little).status == "VACUOUS"


# --- negative controls (smoke budget) -----------------------------------------------------------


@pytest.mark.slow
def test_negative_control_true_labels_in_both_arms_fails(tmp_path):
    """real-more-coherent with the random-label arm trained on the true labels: the two arms
    are the same run, the ratio is 1, and the claim must FAIL, not merely miss a PASS."""
    out = negative_control("coherent-gradients:real-more-coherent", arms={"random": "true"},
                           seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status == "FAIL", (out.status, out.error)


@pytest.mark.slow
def test_negative_control_m3_replaced_by_sgd_does_not_pass(tmp_path):
    """m3-suppresses-memorisation with M3's arm taking plain SGD steps: nothing is
    suppressed, so the claim must not PASS."""
    out = negative_control("coherent-gradients:m3-suppresses-memorisation", arms={"m3": "sgd"},
                           seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
