from __future__ import annotations

import math
from importlib import resources

import pytest
import yaml
from assay import load
from assay.claims import decide
from assay.testing import execute, negative_control
from assay_step_law import claims as C
from assay_step_law.formula import (
    non_embedding_params,
    optimal_batch_tokens,
    optimal_lr,
    transformer_non_embedding,
)
from assay_step_law.method import StepLaw, StepLawConfig

# --- the published law ---------------------------------------------------------------------

@pytest.mark.parametrize("n, d", [(1e8, 1e10), (6e7, 2e9), (1e9, 1e11), (25472, 65536)])
def test_formula_matches_the_published_constants(n, d):
    # eta = 1.79 N^-0.713 D^0.307, written in log form by hand
    assert optimal_lr(n, d) == pytest.approx(math.exp(math.log(1.79) - 0.713 * math.log(n)
                                                      + 0.307 * math.log(d)), rel=1e-12)
    assert optimal_batch_tokens(d) == pytest.approx(0.58 * math.exp(0.571 * math.log(d)))


def test_formula_hand_values_and_directions():
    # 1B params on 100B tokens: 1.79 * 1e9^-0.713 * 1e11^0.307 ~ 1.9e-3; B ~ 0.58 * 1e11^0.571
    assert optimal_lr(1e9, 1e11) == pytest.approx(1.79 * 10 ** (-9 * 0.713 + 11 * 0.307))
    assert 1e-3 < optimal_lr(1e9, 1e11) < 3e-3
    assert optimal_batch_tokens(1e11) == pytest.approx(0.58 * 10 ** (11 * 0.571))
    assert optimal_lr(2e8, 1e10) < optimal_lr(1e8, 1e10) < optimal_lr(1e8, 2e10)
    with pytest.raises(ValueError):
        optimal_lr(0, 1e9)


def _lm(width: int = 32, **trainer):
    return load({"dataset": {"name": "bytes", "seq_len": 32},
                 "model": {"name": "transformer", "width": width, "depth": 2, "n_heads": 4},
                 "methods": {"optimizer": {"name": "adamw", "lr": 3e-3},
                             "trainer": {"name": "step-law", **trainer}},
                 "backend": {"name": "cpu"},
                 "train": {"steps": 1, "batch_size": 8, "eval_every": 1000}})


def test_non_embedding_count_matches_the_built_transformer():
    import torch
    from assay.testing import build, load_data

    loaded = _lm(width=48)
    model = build("model", loaded.run.model).build(load_data(loaded.run))
    n = non_embedding_params(model)
    assert n == transformer_non_embedding(48, 2)
    assert n == sum(p.numel() for p in model.parameters()) - 256 * 48 - 32 * 48 - 48 * 256
    mlp = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    assert non_embedding_params(mlp) == 3 * 4 + 4 + 4 * 2 + 2  # no embedding: everything


def test_claim_parameter_counts_match_the_built_mlps():
    from assay.testing import build, load_data

    for arm, path in C.ARMS.items():
        raw = yaml.safe_load(resources.files("assay_step_law").joinpath(path).read_text())
        raw["dataset"]["n_train"] = 64                 # the shapes are all that matter here
        run = load(raw).run
        model = build("model", run.model).build(load_data(run))
        assert non_embedding_params(model) == C.N[arm] == C.mlp_params(C.WIDTH[arm])


# --- the trainer ---------------------------------------------------------------------------

def test_lr_shape_warms_up_then_decays_to_the_absolute_floor():
    t = StepLaw(StepLawConfig(warmup_fraction=0.1, final_lr=1e-4))
    assert t.lr_factor(0, 100, 1e-2) == pytest.approx(1 / 11)
    assert t.lr_factor(10, 100, 1e-2) == pytest.approx(1.0)
    assert t.lr_factor(99, 100, 1e-2) == pytest.approx(1e-4 / 1e-2)
    assert t.lr_factor(99, 100, 1e-5) == pytest.approx(1.0)   # floor never above the peak
    # 101 steps: warm-up ends at step 10, decay runs over steps 10..100, its middle is 55
    assert t.lr_factor(55, 101, 1e-2) == pytest.approx(0.01 + 0.99 * 0.5)


def test_sequences_count_their_tokens_in_the_budget():
    from types import SimpleNamespace

    import torch
    from assay import Data

    def ctx(task: str, shape: tuple[int, ...]) -> SimpleNamespace:
        x = torch.zeros(10, *shape)
        data = Data((x, x), (x, x), task=task, n_outputs=2, input_shape=shape)  # type: ignore[arg-type]
        return SimpleNamespace(data=data, run=SimpleNamespace(train=SimpleNamespace(batch_size=8)))

    trainer = StepLaw(StepLawConfig(tokens=16384))
    assert trainer.n_steps(ctx("lm", (32,))) == 64            # 16384 / (8 x 32)
    assert trainer.n_steps(ctx("regression", (32,))) == 2048  # 16384 / 8 examples
    assert StepLaw(StepLawConfig(tokens=3)).n_steps(ctx("lm", (32,))) == 1


def test_examples_are_the_budget_for_non_sequence_data():
    loaded = load({"dataset": {"name": "synthetic-regression", "n_train": 4096},
                   "model": {"name": "mlp", "width": 32},
                   "methods": {"optimizer": {"name": "adamw", "lr": 1e-2},
                               "trainer": {"name": "step-law", "tokens": 4096}},
                   "backend": {"name": "cpu"},
                   "train": {"steps": 1, "batch_size": 32, "eval_every": 1000}})
    first = execute(loaded.run)
    assert first.status == "finished", first.error
    assert first.metrics["step_law/steps"] == 128 and first.metrics["step_law/D"] == 4096
    m = first.metrics
    assert m["val/loss"] < 3.0, m                              # target variance is ~6
    assert m["step_law/N"] == C.mlp_params(32)
    assert m["step_law/lr_pred"] == pytest.approx(optimal_lr(m["step_law/N"], 4096))
    assert m["step_law/batch_tokens_pred"] == pytest.approx(optimal_batch_tokens(4096))


# --- the optimum estimate and the checks ----------------------------------------------------

def test_optimum_profiles_the_other_parameter_and_finds_a_parabola_vertex():
    m = _landscape({"base": 3.1e-3, "wide": 3e-3, "long": 3e-3}, {a: 7 for a in C.ARMS})
    assert C.optimum(m, "base", C.LR) == pytest.approx(3.1e-3, rel=1e-6)
    assert C.optimum(m, "base", C.BATCH) == pytest.approx(7, rel=1e-6)
    assert math.isnan(C.optimum({}, "base", C.LR))


LRS, BATCHES = [1e-3 * 2 ** k for k in range(6)], [4, 8, 16, 32]
PAPER_LR = {"base": 8e-3, "wide": 3e-3, "long": 1.1e-2}       # falls with N, rises with D
PAPER_BATCH = {"base": 7, "wide": 7.5, "long": 17}            # grows with D, not with N


def _landscape(lr0: dict[str, float], b0: dict[str, float], floor: float = 2.0
               ) -> dict[str, float]:
    """One seed's grids: every arm's loss a bowl in log lr and log batch around (lr0, b0)."""
    m: dict[str, float] = {}
    for arm in C.ARMS:
        for n, (lr, b) in enumerate((lr, b) for lr in LRS for b in BATCHES):
            m[f"{arm}/trials/{n}/{C.LR}"], m[f"{arm}/trials/{n}/{C.BATCH}"] = lr, b
            m[f"{arm}/trials/{n}/val/loss"] = (floor + 0.1 * math.log(lr / lr0[arm]) ** 2
                                               + 0.03 * math.log(b / b0[arm]) ** 2)
    return m


def _seeds(lr0: dict[str, float], b0: dict[str, float], jitter=(1.0, 1.1, 0.9)):
    """Three seeds of the same landscape, every optimum moved by a seed's factor."""
    return [_landscape({a: v * j ** (a != "base") for a, v in lr0.items()},
                       {a: v * j ** (a != "base") for a, v in b0.items()}) for j in jitter]


def _statuses(seeds) -> dict[str, str]:
    return {c.id: decide([c.check(m) for m in seeds]).status for c in C.CLAIMS}


def test_checks_pass_on_the_papers_directions():
    assert set(_statuses(_seeds(PAPER_LR, PAPER_BATCH)).values()) == {"PASS"}


def test_checks_fail_against_the_papers_directions():
    flat = _seeds({"base": 8e-3, "wide": 9e-3, "long": 4e-3}, {"base": 7, "wide": 20, "long": 7})
    assert set(_statuses(flat).values()) == {"FAIL"}


def test_checks_are_inconclusive_when_seeds_disagree():
    # the wide/base lr ratio is 0.375 in one seed and 0.9 in the other
    seeds = [_landscape(PAPER_LR, PAPER_BATCH),
             _landscape({**PAPER_LR, "wide": 7.2e-3}, PAPER_BATCH)]
    assert decide([C.lr_falls_with_n(m) for m in seeds]).status == "INCONCLUSIVE"


def test_an_optimum_at_the_grid_edge_is_not_established():
    # base's batch optimum below the grid: "ignores N" and "grows with D" are not established
    m = _landscape(PAPER_LR, {"base": 2, "wide": 3, "long": 20})
    for check in (C.batch_ignores_n, C.batch_grows_with_d):
        d = decide([check(m)] * 3)
        assert d.status == "NOT-ESTABLISHED" and "base batch_size = 4" in d.reason, d.reason
    assert decide([C.lr_falls_with_n(m)] * 3).status == "PASS"   # the lr optima are interior


def test_an_arm_that_never_beat_the_mean_predictor_is_invalid():
    bad = {**_landscape(PAPER_LR, PAPER_BATCH),
           **{k: v for k, v in _landscape(PAPER_LR, PAPER_BATCH, floor=4.0).items()
              if k.startswith("wide/")}}
    d = decide([C.lr_falls_with_n(bad)] * 3)
    assert d.status == "INVALID" and "wide" in d.reason
    diverged = {k: math.nan if k.startswith("base/") and k.endswith("val/loss") else v
                for k, v in _landscape(PAPER_LR, PAPER_BATCH).items()}
    assert decide([C.batch_grows_with_d(diverged)] * 3).status == "INVALID"


def test_the_mean_predictor_loss_is_that_of_the_claims_data():
    from assay.testing import load_data

    raw = yaml.safe_load(resources.files("assay_step_law").joinpath(C.ARMS["base"]).read_text())
    data = load_data(load(raw).run)
    mse = float(((data.val[1] - data.train[1].mean()) ** 2).mean())
    assert mse == pytest.approx(C.MEAN_PREDICTOR_LOSS, abs=0.01)


def store(tmp_path, monkeypatch) -> str:
    """A throwaway MLflow store (sqlite) with its artifacts, both under ``tmp_path``."""
    return str(tmp_path / "runs")


def small_data(*arms: str) -> dict[str, dict[str, int]]:
    """8K training examples instead of 262K for a control: the 2048-example smoke budget
    never sees more, and building the full set costs seconds in every worker."""
    return {arm: {"dataset.n_train": 8192} for arm in arms}


@pytest.mark.slow
def test_negative_control_wide_replaced_by_base_does_not_pass(tmp_path, monkeypatch):
    """step-law:lr-falls-with-n with the wide arm running base's file: N does not change, so
    the best lr does not fall and the check must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("step-law:lr-falls-with-n", arms={"wide": "base"},
                           overrides=small_data("base", "wide"), seeds=3,
                           tracking_uri=store(tmp_path, monkeypatch))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_long_replaced_by_base_does_not_pass(tmp_path, monkeypatch):
    """step-law:batch-grows-with-d with the long arm running base's file: D does not change,
    so the best batch does not grow and the check must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("step-law:batch-grows-with-d", arms={"long": "base"},
                           overrides=small_data("base", "long"), seeds=3,
                           tracking_uri=store(tmp_path, monkeypatch))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


def test_arm_files_match_the_constants_the_checks_use():
    for arm, path in C.ARMS.items():
        raw = yaml.safe_load(resources.files("assay_step_law").joinpath(path).read_text())
        assert raw["model"]["width"] == C.WIDTH[arm]
        assert raw["methods"]["trainer"]["tokens"] == C.TOKENS[arm]
        space = raw["sweep"]["space"]
        assert raw["sweep"]["trials"] == math.prod(len(d["choice"]) for d in space.values())
        load(raw)                                      # validates against the registry
