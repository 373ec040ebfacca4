from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, build_context, execute, load_yaml, negative_control
from assay_intrinsic_dimension_ft.claims import CLAIMS, d90, pretraining_lowers_d90
from assay_intrinsic_dimension_ft.method import SubspaceAdapter


def _exp(classes, methods, steps=40):
    return {"dataset": {"name": "mnist1d", "n_train": 400, "n_val": 200, "classes": classes},
            "model": {"name": "mlp", "width": 32, "depth": 1}, "methods": methods,
            "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 64, "eval_every": steps}}


@pytest.fixture(scope="module")
def pretrained():
    result = execute(load(_exp([0, 1, 2, 3, 4], {"optimizer": {"name": "adamw", "lr": 3e-3}},
                               80)).run, keep_state=True)
    assert result.status == "finished", result.error
    return result.state_dict


ADAPT = {"adapter": {"name": "intrinsic-dim-ft", "dim": 200},
         "optimizer": {"name": "adamw", "lr": 3e-2, "weight_decay": 0.0}}


def test_the_subspace_starts_at_the_pretrained_weights_and_only_z_trains(pretrained):
    ctx = build_context(load(_exp([5, 6, 7, 8, 9], ADAPT)).run, init_state=pretrained)
    layer = ctx.model.hidden[0]
    torch.testing.assert_close(layer.parametrizations.weight.original, pretrained["hidden.0.weight"])
    torch.testing.assert_close(layer.weight, pretrained["hidden.0.weight"])        # z = 0
    trainable = [p for g in ctx.param_groups for p in g["params"]]
    assert len(trainable) == 1 and trainable[0].shape == (200,)


def test_fine_tuning_trains_z_and_leaves_the_pretrained_weights_frozen(pretrained):
    run = load(_exp([5, 6, 7, 8, 9], ADAPT, steps=100)).run
    result = execute(run, init_state=pretrained, keep_state=True)
    assert result.status == "finished", result.error
    state = result.state_dict
    torch.testing.assert_close(state["hidden.0.parametrizations.weight.original"],
                               pretrained["hidden.0.weight"])
    z = next(v for k, v in state.items() if k.endswith("subspace.z"))
    assert float(z.abs().sum()) > 0 and result.metrics["cost/trainable_params"] == 200
    assert result.metrics["val/acc"] > 0.25                     # chance 0.2 among the new digits


class TestSubspaceAdapterContract(MethodContract):
    @pytest.fixture
    def component(self):
        return SubspaceAdapter


@pytest.mark.parametrize("arm", sorted(CLAIMS[0].arms.values()))
def test_every_arm_file_loads_and_only_ft_arms_pretrain(arm):
    run = load(load_yaml(resources.files("assay_intrinsic_dimension_ft").joinpath(arm))).run
    assert (run.pretrain is not None) == arm.startswith("configs/ft-")
    assert run.dataset["classes"] == [5, 6, 7, 8, 9] and run.model["width"] == 256


# --- d90 and the check on made-up numbers -------------------------------------------------------

DIMS = (10, 20, 50, 100, 200, 500, 1000)


def test_d90_interpolates_in_log_d_between_grid_points():
    pts = [(10.0, 0.3), (100.0, 0.7), (1000.0, 0.95)]
    # target 0.9 x 0.9 = 0.81: between 100 (0.7) and 1000 (0.95), 0.44 of the way in log d
    assert d90(pts, 0.9) == pytest.approx(10 ** (2 + 0.11 / 0.25))
    assert d90(pts, 0.3) == 10.0                                 # already there at the smallest
    assert math.isinf(d90(pts, 1.2))


def _scan(arm: str, first: float, acc: float = 0.9) -> dict[str, float]:
    """A scan whose accuracy jumps from 0.1 to ``acc`` at d = ``first`` (inf: never)."""
    out = {}
    for n, d in enumerate(DIMS):
        out[f"{arm}/trials/{n}/methods.adapter.dim"] = float(d)
        out[f"{arm}/trials/{n}/val/acc"] = acc if d >= first else 0.1
    return out


def _seed(ft: float, scratch: float, **full: float) -> dict[str, float]:
    return {"ft-full/val/acc": full.get("ft", 0.9), "scratch-full/val/acc": full.get("sc", 0.9),
            **_scan("ft-sub", ft), **_scan("scratch-sub", scratch)}


def _decide(seeds):
    return decide([pretraining_lowers_d90(m) for m in seeds])


def test_the_check_decides_from_the_interval_over_seeds():
    assert _decide([_seed(50, 500), _seed(50, 500), _seed(100, 500)]).status == "PASS"
    assert _decide([_seed(200, 200), _seed(500, 500), _seed(200, 200)]).status == "FAIL"
    assert _decide([_seed(50, 500), _seed(500, 500)]).status == "INCONCLUSIVE"


def test_guards_and_bounds():
    d = _decide([_seed(50, 500, sc=0.22)] * 3)
    assert d.status == "INVALID" and "scratch-full" in d.reason
    d = _decide([_seed(math.inf, 500)] * 3)
    assert d.status == "NOT-ESTABLISHED" and "fine-tuning" in d.reason
    d = _decide([_seed(10, 10)] * 3)                              # scratch at the smallest d
    assert d.status == "NOT-ESTABLISHED" and "smallest" in d.reason
    # scratch never reaches 90% within 1000: 100 / 1000 bounds the ratio from above
    assert _decide([_seed(100, math.inf), _seed(200, math.inf),
                    _seed(100, math.inf)]).status == "PASS"
    d = _decide([_seed(1000, math.inf)] * 3)                      # the bound says nothing
    assert d.status == "NOT-ESTABLISHED"


# --- negative control ---------------------------------------------------------------------------

@pytest.mark.slow
def test_negative_control_without_pretraining_the_ratio_is_one(tmp_path):
    """The fine-tuning arms run from a random initialisation (the scratch files): both d90s
    measure the same thing, the ratio is about 1, and the check must not PASS."""
    steps = {"train.steps": 300, "train.eval_every": 100}
    out = negative_control(
        "intrinsic-dimension-ft:pretraining-lowers-d90",
        arms={"ft-sub": "scratch-sub", "ft-full": "scratch-full"},
        overrides={"ft-sub": {**steps, "sweep.trials": 7}, "scratch-sub": {**steps,
                   "sweep.trials": 7}, "ft-full": steps, "scratch-full": steps},
        seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
