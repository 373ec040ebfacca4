from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, build_context, execute, load_yaml, negative_control
from assay_pqi_sap_pruning.claims import (
    CLAIMS,
    fall_then_rise,
    pqi_falls_then_rises,
    sap_sparser_than_imp,
)
from assay_pqi_sap_pruning.method import (
    IterativePruning,
    pq_index,
    retained_bound,
    sap_prune_count,
)

# --- PQI and SAP's count against hand computations ------------------------------------------


def test_pq_index_by_hand():
    # equal magnitudes: 0; p = 1/2, q = 1: I = 1 - (sum sqrt|w|)^2 / (d sum |w|)
    assert pq_index(torch.tensor([2.0, -2.0, 2.0, 2.0])) == pytest.approx(0.0, abs=1e-12)
    assert pq_index(torch.tensor([1.0, 4.0])) == pytest.approx(1 - 9 / (2 * 5))        # 0.1
    assert pq_index(torch.tensor([1.0, 1.0, 1.0, 9.0])) == pytest.approx(0.25)
    # one weight carrying everything among d retained: 1 - 1/d
    assert pq_index(torch.tensor([4.0, 0.0, 0.0, 0.0])) == pytest.approx(0.75)
    # other (p, q): d^(1/q - 1/p) ||w||_p / ||w||_q with p = 1, q = 2 on (3, 4): 1 - 7/(sqrt2*5)
    assert pq_index(torch.tensor([3.0, 4.0]), 1.0, 2.0) == pytest.approx(1 - 7 / (2 ** 0.5 * 5))


def test_sap_count_by_hand():
    # w = (1, 1, 1, 9): I = 0.25; r = 4 * 0.75 / 1.001^2 = 2.994 -> 3 kept at least;
    # ratio = 1.2 * (1 - 3/4) = 0.3; floor(4 * 0.3) = 1 pruned
    assert retained_bound(4, 0.25, 0.5, 1.0, 0.001) == 3
    assert sap_prune_count(4, 0.25, 0.5, 1.0, 0.001, 1.2, 0.9) == 1
    assert sap_prune_count(4, 0.25, 0.5, 1.0, 0.001, 1.2, 0.2) == 0        # beta caps 0.3
    assert sap_prune_count(1000, 0.0, 0.5, 1.0, 0.0, 1.2, 0.9) == 0        # uniform: keep all
    # the general exponents: p = 0.25, q = 2, eta = 0.1, I = 0.5, d = 100
    r = 100 * 1.1 ** (-2 / 1.75) * 0.5 ** (0.5 / 1.75)
    assert retained_bound(100, 0.5, 0.25, 2.0, 0.1) == math.ceil(r)
    assert sap_prune_count(100, 0.5, 0.25, 2.0, 0.1, 1.0, 0.9) == math.floor(
        100 * (1 - math.ceil(r) / 100))


# --- the trainer --------------------------------------------------------------------------------


class Spy(IterativePruning):
    """Records the prunable weights at the start of every round and each round's pruning."""

    def train(self, ctx):
        self.starts, self.before_prune, self.pruned = [], [], []
        self.init = {k: v.detach().clone() for k, v in ctx.model.state_dict().items()}
        super().train(ctx)

    def train_round(self, ctx, params, masks, t, step, n_steps):
        self.starts.append({n: p.detach().clone() for n, p in params.items()})
        return super().train_round(ctx, params, masks, t, step, n_steps)

    def next_masks(self, params, masks):
        self.before_prune.append({n: params[n].detach()[masks[n]].clone() for n in params})
        new = super().next_masks(params, masks)
        self.pruned.append(sum(int(masks[n].sum() - new[n].sum()) for n in params))
        return new


def _exp(trainer: dict, steps: int = 30) -> dict:
    return {"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 32, "depth": 1},
            "methods": {"trainer": {"name": "pqi-sap-pruning", **trainer},
                        "optimizer": {"name": "adamw", "lr": 1e-2}},
            "backend": {"name": "cpu"}, "train": {"steps": steps, "batch_size": 64,
                                                  "eval_every": 10}}


def _spy_run(trainer: dict):
    """The trainer on a run's context, with the optimizer the run would build."""
    ctx = build_context(load(_exp(trainer)).run)
    spy = Spy(IterativePruning.Config(**trainer))
    ctx.optimizer = ctx.build("method", {"name": "adamw", "lr": 1e-2}).build(ctx.param_groups)
    spy.train(ctx)
    return ctx, spy


def test_fixed_rule_prunes_its_share_each_round_and_rewinds_to_the_initial_weights():
    ctx, spy = _spy_run({"rule": "fixed", "rounds": 2, "fixed_ratio": 0.5})
    total = 64 * 32 + 32 * 10
    assert spy.pruned == [total // 2, total // 4]
    assert ctx.final_metrics["sparsity/actual"] == pytest.approx(0.75)
    for t, start in enumerate(spy.starts):                 # each round: init weights, masked
        for name, w in start.items():
            kept = w != 0
            torch.testing.assert_close(w[kept], spy.init[name][kept])
        assert ctx.final_metrics[f"round/{t}/density"] == pytest.approx(0.5 ** t, abs=1e-3)
    weights = [p for name, p in ctx.model.named_parameters() if name.endswith("weight")]
    zeros = sum(int((w == 0).sum()) for w in weights)      # pruned weights stayed zero
    assert zeros >= total - total // 4


def test_sap_rule_prunes_what_the_pqi_of_the_trained_weights_says():
    ctx, spy = _spy_run({"rule": "sap", "rounds": 2, "gamma": 1.2, "eta": 0.001})
    for before, n_pruned in zip(spy.before_prune, spy.pruned):
        kept = torch.cat(list(before.values()))
        want = sap_prune_count(kept.numel(), pq_index(kept), 0.5, 1.0, 0.001, 1.2, 0.9)
        assert n_pruned == want > 0
    assert ctx.final_metrics["round/0/pqi"] == pytest.approx(
        pq_index(torch.cat(list(spy.before_prune[0].values()))))


def test_a_run_records_every_round_and_reports_density():
    result = execute(load(_exp({"rule": "fixed", "rounds": 2})).run)
    assert result.status == "finished", result.error
    assert {f"round/{t}/{k}" for t in range(3) for k in ("val_acc", "density", "pqi")} <= set(
        result.metrics)
    assert [m["prune/round"] for _, m in result.history] == [0.0, 1.0, 2.0]


def test_too_few_steps_for_the_rounds_is_a_clear_error():
    result = execute(load(_exp({"rounds": 40}, steps=30)).run)
    assert result.status == "failed" and "train.steps" in result.error


class TestIterativePruningContract(MethodContract):
    @pytest.fixture
    def component(self):
        return IterativePruning


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_pqi_sap_pruning").joinpath(arm))).run
    assert run.methods["trainer"]["rounds"] == 25 and run.train.steps == 26 * 300


# --- the claims' checks on made-up numbers ------------------------------------------------------


def _rounds(arm: str, accs: list[float], densities: list[float],
            pqis: list[float] | None = None) -> dict[str, float]:
    pqis = pqis or [0.15] * len(accs)
    m = {}
    for t, (a, d, q) in enumerate(zip(accs, densities, pqis)):
        m.update({f"{arm}/round/{t}/val_acc": a, f"{arm}/round/{t}/density": d,
                  f"{arm}/round/{t}/pqi": q})
    return m


IMP_D = [0.8 ** t for t in range(6)]
IMP_ACC = [0.97, 0.97, 0.965, 0.962, 0.95, 0.80]        # within 1 pt up to round 3


def _seed(sap_last_ok: int, sap_d: float = 0.3) -> dict[str, float]:
    """SAP's accuracy is within 1 pt until round ``sap_last_ok``, at density sap_d there."""
    d = [1.0, 0.7, 0.5, 0.4, sap_d, 0.2]
    accs = [0.97 if t <= sap_last_ok else 0.9 for t in range(6)]
    return {**_rounds("sap", accs, d), **_rounds("imp", IMP_ACC, IMP_D)}


def test_sparsity_check_decides_from_the_interval_over_seeds():
    sparser = [_seed(4, 0.30), _seed(4, 0.28), _seed(4, 0.32)]     # IMP: 0.512 at round 3
    assert decide([sap_sparser_than_imp(m) for m in sparser]).status == "PASS"
    denser = [_seed(1), _seed(1), _seed(1)]                          # SAP stops at 0.7
    assert decide([sap_sparser_than_imp(m) for m in denser]).status == "FAIL"
    mixed = [_seed(4), _seed(1), _seed(3)]
    assert decide([sap_sparser_than_imp(m) for m in mixed]).status == "INCONCLUSIVE"


def test_sparsity_check_guards():
    imp_uncensored = {**_seed(4), **_rounds("imp", [0.97] * 6, IMP_D)}   # IMP never dropped
    d = decide([sap_sparser_than_imp(imp_uncensored)] * 3)
    assert d.status == "NOT-ESTABLISHED" and "IMP" in d.reason
    sap_censored_below = {**_seed(5, 0.3), **_rounds("sap", [0.97] * 6, [1, .9, .85, .8, .75,
                                                                           .7])}
    assert decide([sap_sparser_than_imp(sap_censored_below)] * 3).status == "NOT-ESTABLISHED"
    at_chance = {**_seed(4), **_rounds("imp", [0.11] * 6, IMP_D)}
    assert decide([sap_sparser_than_imp(at_chance)] * 3).status == "INVALID"
    missing = {k: v for k, v in _seed(4).items() if not k.startswith("sap/")}
    assert decide([sap_sparser_than_imp(missing)] * 3).status == "INVALID"


def test_fall_then_rise_finds_the_pattern_despite_a_later_second_fall():
    assert fall_then_rise([0.20, 0.15, 0.12, 0.16, 0.18, 0.10]) == (2, 4)
    assert fall_then_rise([0.20, 0.18, 0.16, 0.14]) == (0, 0)               # monotone: none


def _pqi_seed(pqis: list[float], accs: list[float] | None = None) -> dict[str, float]:
    accs = accs or [0.97, 0.97, 0.96, 0.96, 0.95, 0.80]                      # collapse: round 5
    return _rounds("imp", accs, IMP_D, pqis)


def test_pqi_check_decides_and_guards():
    pattern = [_pqi_seed([0.20, 0.15, 0.13, 0.17, 0.19, 0.1]),
               _pqi_seed([0.21, 0.16, 0.14, 0.16, 0.20, 0.1]),
               _pqi_seed([0.20, 0.14, 0.12, 0.15, 0.18, 0.1])]
    assert decide([pqi_falls_then_rises(m) for m in pattern]).status == "PASS"
    monotone = [_pqi_seed([0.20, 0.18, 0.16, 0.14, 0.12, 0.3])] * 3        # rise only after
    assert decide([pqi_falls_then_rises(m) for m in monotone]).status == "FAIL"
    no_collapse = [_pqi_seed([0.2] * 6, [0.97] * 6)] * 3
    assert decide([pqi_falls_then_rises(m) for m in no_collapse]).status == "VACUOUS"
    early = [_pqi_seed([0.2] * 6, [0.97, 0.5, 0.4, 0.3, 0.2, 0.1])] * 3
    assert decide([pqi_falls_then_rises(m) for m in early]).status == "VACUOUS"
    at_chance = [_pqi_seed([0.2] * 6, [0.1] * 6)] * 3
    assert decide([pqi_falls_then_rises(m) for m in at_chance]).status == "INVALID"


@pytest.mark.slow
def test_negative_control_sap_replaced_by_imp_is_not_sparser(tmp_path):
    """sap-sparser-than-imp with SAP's arm running IMP: the density ratio is 1, so the check
    must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("pqi-sap-pruning:sap-sparser-than-imp", arms={"sap": "imp"},
                           seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_pruning_nothing_shows_no_pattern(tmp_path):
    """pqi-falls-then-rises with IMP pruning a vanishing share (nothing is removed, nothing
    collapses): the check must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("pqi-sap-pruning:pqi-falls-then-rises",
                           overrides={"imp": {"methods.trainer.fixed_ratio": 1e-9}}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
