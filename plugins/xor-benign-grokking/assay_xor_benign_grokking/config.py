"""The configs of xor-benign-grokking's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class XorClustersConfig(Config):
    """Paper: https://arxiv.org/abs/2310.02541 - XOR of two orthogonal cluster pairs."""

    n_train: int = Field(50, ge=4, le=100_000, description="Training examples")
    n_val: int = Field(500, ge=4, le=100_000, description="Validation examples")
    dim: int = Field(20_000, ge=2, le=1_000_000, description="Input dimension d (d >> n)")
    mean_norm: float | None = Field(None, gt=0, description="||mu_1|| = ||mu_2|| (None: "
                                    "n_train^0.26 * dim^0.25, inside the paper's regime)")
    label_noise: float = Field(0.1, ge=0, lt=0.5, description="Probability a training label "
                                                              "is flipped")
    clean_val: bool = Field(True, description="Validation labels without flips (False: "
                                              "flipped like the training labels)")
    data_seed: int = Field(0, ge=0, description="Seed of the draw (mixed with the run seed "
                                                "when vary_with_seed)")
    vary_with_seed: bool = Field(True, description="Draw fresh data for every run seed (the "
                                                   "paper's results hold over random draws)")


class FullBatchGDConfig(Config):
    """Paper: https://arxiv.org/abs/2310.02541 - GD on the whole training set every step."""

    dense_eval_steps: int = Field(5, ge=0, description="Also evaluate after each of the first "
                                                       "k steps")
    generalize_acc: float = Field(0.9, gt=0, le=1, description="val/acc that counts as "
                                                               "generalising")


class TwoLayerReLUConfig(Config):
    """Paper: https://arxiv.org/abs/2310.02541 - two-layer ReLU net, fixed second layer."""

    width: int = Field(400, ge=2, le=100_000, description="Hidden neurons m (even)")
    init_std: float = Field(1e-6, gt=0, le=10, description="Std of the first-layer weights")
    train_output: bool = Field(False, description="Also train the output weights a_j")
