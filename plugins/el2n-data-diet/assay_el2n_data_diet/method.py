"""Data diet: keep the training examples that early-training scores call important.

Before the run trains, ``n_probes`` fresh copies of the run's model (same model component and
config, different initialisations) each train ``probe_epochs`` epochs on the full training
set. Every example is then scored by EL2N (the norm of softmax error) or GraNd (the norm of its
loss gradient), averaged over probes. The run trains on the ``keep_fraction`` highest-scoring
examples, after dropping the top ``skip_fraction`` (the paper's offset for label noise: the
very highest scores are mostly mislabelled examples). ``score: random`` keeps a random subset
of the same size: the baseline every pruning result is compared with.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from assay import DataSelection, Paper, UserError

from assay_el2n_data_diet.config import DataDietConfig

from ._scores import el2n, grand, train_probe

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="Deep Learning on a Data Diet: Finding Important Examples Early in Training",
              arxiv="2107.07075", year=2021)


class DataDiet(DataSelection):
    """Prune the training set to its highest-EL2N (or GraNd) examples, scored early."""

    name = "el2n-data-diet"
    Config = DataDietConfig
    paper = PAPER
    contract_experiment: ClassVar[dict[str, Any]] = {
        "methods": {"data": {"name": "el2n-data-diet", "keep_fraction": 0.7, "n_probes": 2,
                             "probe_epochs": 1}},
    }

    def select(self, ctx: RunContext) -> torch.Tensor:
        c = self.config
        n = ctx.data.n_train
        n_keep = max(1, round(c.keep_fraction * n))
        n_skip = min(round(c.skip_fraction * n), n - n_keep)
        if c.score == "random":
            gen = torch.Generator().manual_seed(_probe_seed(ctx.run.seed, 0))
            ranking = torch.randperm(n, generator=gen)
        else:
            ranking = torch.argsort(self.scores(ctx), descending=True, stable=True)
        kept = ranking[n_skip:n_skip + n_keep].sort().values
        ctx.final_metrics.update(_stats(ctx, ranking, kept))
        return kept

    def scores(self, ctx: RunContext) -> torch.Tensor:
        """(n_train,) score of every training example, averaged over the probes."""
        c = self.config
        if ctx.data.task == "regression":
            raise UserError("data method 'el2n-data-diet' scores classification or language-"
                            "model examples; the dataset is a regression task")
        score_fn = el2n if c.score == "el2n" else grand
        x, y = (t.to(ctx.device) for t in ctx.data.train)
        total = torch.zeros(x.shape[0], device=ctx.device)
        model_component = _model_component(ctx)
        for k in range(c.n_probes):
            seed = _probe_seed(ctx.run.seed, k + 1)
            with torch.random.fork_rng(devices=[]):       # leave the run's own RNG untouched
                torch.manual_seed(seed)
                probe = model_component.build(ctx.data).to(ctx.device)
                train_probe(probe, x, y, epochs=c.probe_epochs, batch_size=c.probe_batch_size,
                            lr=c.probe_lr, generator=torch.Generator().manual_seed(seed))
                total += score_fn(probe, x, y)
        return (total / c.n_probes).cpu()


def _model_component(ctx: RunContext) -> Any:
    return ctx.build("model", ctx.run.model)


def _probe_seed(run_seed: int, k: int) -> int:
    return 1_000_003 * (run_seed + 1) + 7919 * k


def _stats(ctx: RunContext, ranking: torch.Tensor, kept: torch.Tensor) -> dict[str, float]:
    """Kept counts; with known flipped labels (``info["noisy_idx"]``), how well the ranking
    finds them: precision of its top-|noisy| and the noisy share left in the kept subset."""
    n = ranking.numel()
    out = {"data/kept": float(kept.numel()), "data/kept_fraction": kept.numel() / n}
    noisy = ctx.data.info.get("noisy_idx")
    if noisy is not None and len(noisy):
        is_noisy = torch.zeros(n, dtype=torch.bool)
        is_noisy[torch.as_tensor(noisy, dtype=torch.long)] = True
        k = int(is_noisy.sum())
        out["data/noise_precision"] = float(is_noisy[ranking[:k]].float().mean())
        out["data/noise_kept"] = float(is_noisy[kept].float().mean())
        out["data/noise_rate"] = k / n
    return out
