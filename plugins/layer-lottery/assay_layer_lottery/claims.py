"""Layer tickets' claims at small scale: a residual 1-D CNN (stem + 12 blocks, 32 channels) on
MNIST-1D, trained 20 epochs with one set of hyperparameters, as the dense network, as a layer
ticket (6 of its 12 blocks removed at initialisation by GraSP) and as a filter ticket (23 of 32
channels kept in every layer, about the layer ticket's convolution cost).

- layer-ticket-wins: the layer ticket ends within 1 point of the dense network's validation
  accuracy (or above), and its training phase takes at most 1/1.5 of the dense network's
  (CPU seconds of the training thread; wall-clock is recorded beside it).
- filters-lose-more: at about the same convolution cost, the filter ticket ends below the layer
  ticket (it loses more accuracy, relative to the dense network, than layer removal does).

Each check reports its effects per seed; the verdict comes from the t-interval over seeds
(``assay.claims.decide``). Guards: INVALID when the reference network (dense for the first
claim, the layer ticket for the second) diverged or sits at chance, when a training time is
missing, or when the two tickets' convolution costs differ by more than 10% (the second claim
compares them at equal cost).
"""
from __future__ import annotations

import math

from assay import Claim, Metrics, Verdict
from assay.claims import Guard, above, at_least, baseline_guard, invalid

MAX_DROP_PTS = 1.0         # "within 1 point of the dense network"
MIN_SPEEDUP = 1.5          # ">= 1.5x less training time"
COST_TOLERANCE = 0.10      # the tickets compared at equal cost: conv MACs within 10%
CHANCE, MARGIN = 0.1, 0.05


def trained(m: Metrics, arm: str, what: str) -> Guard | None:
    """INVALID when ``arm`` (``what``, for the reader) diverged or sits at chance."""
    return baseline_guard(m, [arm], chance=CHANCE, margin=MARGIN)


def layer_ticket_wins(m: Metrics) -> Verdict:
    stop = trained(m, "dense", "the dense network (the reference)")
    t_dense, t_layers = (m.get(f"{arm}/cost/train_phase_cpu_s", math.nan)
                         for arm in ("dense", "layers"))
    if stop is None and not (t_dense > 0 and t_layers > 0):
        stop = invalid(f"no training time recorded: dense {t_dense}, layers {t_layers}")
    if stop is not None:
        return Verdict(stop.reason, guard=stop)
    gap = 100 * (m["layers/val/acc"] - m["dense/val/acc"])
    speedup = t_dense / t_layers
    wall = m["dense/cost/train_phase_s"] / m["layers/cost/train_phase_s"]
    blocks = m.get("layers/lottery/blocks", math.nan)
    return Verdict(f"val/acc dense {m['dense/val/acc']:.4f}, layer ticket "
                   f"{m['layers/val/acc']:.4f} ({blocks:.0f} blocks): gap {gap:+.2f} pts "
                   f"(paper: >= -{MAX_DROP_PTS:g}); training CPU time {t_dense:.1f} s vs "
                   f"{t_layers:.1f} s, speedup {speedup:.2f}x (>= {MIN_SPEEDUP}; wall-clock "
                   f"{wall:.2f}x)",
                   [at_least("acc_gap_pts", gap, -MAX_DROP_PTS),
                    at_least("speedup", speedup, MIN_SPEEDUP)],
                   numbers={"wall_speedup": wall,
                            "mac_ratio": m.get("dense/lottery/conv_macs", math.nan)
                            / m.get("layers/lottery/conv_macs", math.nan)})


def filters_lose_more(m: Metrics) -> Verdict:
    stop = trained(m, "layers", "the layer ticket (the reference)")
    macs = m.get("filters/lottery/conv_macs", math.nan) / m.get("layers/lottery/conv_macs",
                                                                 math.nan)
    if stop is None and not abs(macs - 1) <= COST_TOLERANCE:
        stop = invalid(f"the tickets' convolution costs differ: filters/layers MACs {macs:.3f} "
                       f"(within {COST_TOLERANCE:.0%} needed)")
    if stop is not None:
        return Verdict(stop.reason, guard=stop)
    margin = 100 * (m["layers/val/acc"] - m["filters/val/acc"])
    channels = m.get("filters/lottery/channels", math.nan)
    return Verdict(f"val/acc layer ticket {m['layers/val/acc']:.4f}, filter ticket "
                   f"{m['filters/val/acc']:.4f} ({channels:.0f} channels, MACs x{macs:.3f} of "
                   f"the layer ticket's): layers - filters {margin:+.2f} pts (paper: > 0)",
                   [above("layers_minus_filters_pts", margin, 0.0)],
                   numbers={"mac_ratio": macs})


DENSE, LAYERS = "configs/dense_mnist1d.yaml", "configs/layers_mnist1d.yaml"
FILTERS = "configs/filters_mnist1d.yaml"

CLAIMS = [
    Claim(
        id="layer-lottery:layer-ticket-wins",
        statement="Removing half of a residual CNN's blocks at initialisation (scored by GraSP) "
                  "gives a network that, trained with the dense network's hyperparameters, "
                  "ends within 1 point of its accuracy and trains at least 1.5 times faster",
        source="arXiv:2301.10835, abstract and the layer-pruning-at-initialisation results "
               "(winning tickets, training speed-up)",
        arms={"dense": DENSE, "layers": LAYERS}, check=layer_ticket_wins, package=__package__,
        seeds=5, max_seeds=9, budget_s=600,
    ),
    Claim(
        id="layer-lottery:filters-lose-more",
        statement="At about the same convolution cost, a filter ticket found at initialisation "
                  "(the same channels kept in every layer, by L1 norm) ends below the layer "
                  "ticket's accuracy",
        source="arXiv:2301.10835, abstract (tickets from filter removal hardly win) and the "
               "filter-versus-layer comparisons",
        arms={"layers": LAYERS, "filters": FILTERS}, check=filters_lose_more,
        package=__package__, seeds=5, max_seeds=9, budget_s=600,
    ),
]
