"""The built-in components' configs, in a module that imports neither torch nor numpy.

Validating an experiment needs only the configs of the components it names (their fields,
bounds and validators), not the components: ``assay._plugins.light`` imports a config from
the module it was defined in, so an experiment naming only built-in components validates,
and gets its run key, without importing torch. The components (``backends``, ``datasets``,
``mnist1d``, ``models``, ``optim``) import their configs from here. Plugins get the same fast
path by keeping their configs in a torch-free module (``assay new plugin`` does).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from assay.kinds import Config

# --- datasets ---------------------------------------------------------------------------------

class DigitsConfig(Config):
    val_fraction: float = Field(0.2, gt=0, lt=1, description="Share of the 1797 images held out")
    n_train: int | None = Field(None, ge=10, description="Cap on training examples (None: all)")
    data_seed: int = Field(0, ge=0, description="Seed of the train/val split (and of the "
                                                 "label noise and the noise transform)")
    classes: list[int] | None = Field(None, min_length=2, max_length=10, description=(
        "Keep only these digits (labels and n_outputs stay 0-9, as mnist1d does; None: all)"))
    size: Literal[8, 16, 28, 40] = Field(8, description="Image side: 8 is the original; larger "
                                                        "sizes are bilinear upsamplings")
    label_noise: float = Field(0.0, ge=0, le=0.9, description=(
        "Share of training labels replaced by a different kept class, drawn uniformly; the "
        "flipped examples are Data.info['flipped'] (bool per training example)"))
    transform: Literal["none", "rot90", "flip", "invert", "noise"] = Field(
        "none", description="A fixed change of every image (a task family): rotate 90 degrees, "
                            "mirror left-right, invert intensities, or add Gaussian noise")
    noise_std: float = Field(0.3, ge=0, le=10, description="Pixel noise std for transform: noise")

    @field_validator("classes")
    @classmethod
    def _distinct_digits(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (len(set(v)) != len(v) or not all(0 <= d <= 9 for d in v)):
            raise ValueError(f"classes must be distinct digits 0-9, got {v}")
        return v


class SyntheticConfig(Config):
    n_train: int = Field(2048, ge=8, description="Training examples")
    n_val: int = Field(512, ge=8, description="Validation examples")
    dim: int = Field(32, ge=1, description="Input dimension")
    noise: float = Field(0.1, ge=0, description="Label noise (classification: flip rate; "
                                                "regression: target noise std)")
    data_seed: int = Field(0, ge=0, description="Seed of the generated data")


class SyntheticClassificationConfig(SyntheticConfig):
    n_classes: int = Field(4, ge=2, description="Number of classes")


class SyntheticRegressionConfig(SyntheticConfig):
    n_targets: int = Field(1, ge=1, description="Output dimension")


class ModularConfig(Config):
    p: int = Field(97, ge=2, le=1000, description="Modulus (prime for division)")
    op: Literal["add", "sub", "mul", "div"] = Field("add", description="a op b mod p")
    train_fraction: float = Field(0.3, gt=0, lt=1, description="Share of all p*p pairs trained on")
    data_seed: int = Field(0, ge=0, description="Seed of the train/val split")


class BytesConfig(Config):
    path: str | None = Field(None, description="UTF-8/binary text file (None: the small text "
                                               "shipped with assay)")
    seq_len: int = Field(64, ge=2, le=4096, description="Tokens per example")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="Tail of the file held out")


class TabularConfig(Config):
    table: Literal["breast_cancer", "wine", "iris", "diabetes"] = Field(
        "breast_cancer", description="A data set scikit-learn ships (diabetes is regression)")
    val_fraction: float = Field(0.25, gt=0, lt=1, description="Share of rows held out")
    data_seed: int = Field(0, ge=0, description="Seed of the train/val split")


# --- mnist1d ----------------------------------------------------------------------------------

class MNIST1DConfig(Config):
    """Paper: https://arxiv.org/abs/2011.14439 - ten 1-D digit templates, randomly padded,
    scaled, shifted, noised and sheared, resampled to 40 points."""

    n_train: int = Field(4000, ge=10, le=1_000_000, description="Training examples")
    n_val: int = Field(1000, ge=10, le=1_000_000, description="Validation examples")
    data_seed: int = Field(0, ge=0, description="Seed of the generated draw")
    classes: list[int] | None = Field(
        None, description="Keep only these digits (None: all ten). Labels keep their digit "
                          "value and n_outputs stays 10, so a model trained on one subset can "
                          "be adapted to another")
    shuffle_seq: bool = Field(False, description="Apply one fixed random permutation to the 40 "
                                                 "positions (removes the spatial prior, as in "
                                                 "the paper's shuffled variant)")

    @field_validator("classes")
    @classmethod
    def _digits(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (not v or any(not 0 <= d <= 9 for d in v) or len(set(v)) < len(v)):
            raise ValueError(f"classes must be distinct digits 0-9, got {v}")
        return v


# --- models -----------------------------------------------------------------------------------

class MLPConfig(Config):
    width: int = Field(128, ge=1, le=65536, description="Hidden units per layer")
    depth: int = Field(2, ge=1, le=64, description="Number of hidden layers")
    activation: Literal["relu", "gelu", "tanh"] = Field("relu", description="Nonlinearity")
    bias: bool = Field(True, description="Use biases")


class CNNConfig(Config):
    channels: int = Field(32, ge=1, le=4096, description="Channels of every conv layer")
    depth: int = Field(2, ge=1, le=64, description="Number of conv layers")
    kernel_size: int = Field(3, ge=1, le=15, description="Kernel size (odd keeps the shape)")
    norm: Literal["none", "batch"] = Field("none", description="Normalisation after each conv")
    residual: bool = Field(False, description="Add each block's input to its output (every "
                                              "block after the first, whose channels change)")


class LinearConfig(Config):
    bias: bool = Field(True, description="Use a bias")
    init: Literal["default", "zeros"] = Field("default", description="torch's default init, or "
                                                                   "all zeros (convex problems)")


class TransformerConfig(Config):
    width: int = Field(64, ge=8, le=8192, description="Embedding size d_model")
    depth: int = Field(2, ge=1, le=48, description="Number of transformer blocks")
    n_heads: int = Field(4, ge=1, le=64, description="Attention heads (must divide width)")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout rate")


# --- optimizers and schedules -----------------------------------------------------------------

class SGDConfig(Config):
    lr: float = Field(0.1, gt=0, description="Learning rate")
    momentum: float = Field(0.9, ge=0, lt=1, description="Heavy-ball momentum")
    nesterov: bool = Field(False, description="Nesterov momentum")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty (coupled)")


class AdamWConfig(Config):
    lr: float = Field(1e-3, gt=0, description="Learning rate")
    beta1: float = Field(0.9, ge=0, lt=1, description="First-moment decay")
    beta2: float = Field(0.999, ge=0, lt=1, description="Second-moment decay")
    eps: float = Field(1e-8, gt=0, description="Denominator epsilon")
    weight_decay: float = Field(0.01, ge=0, description="Decoupled weight decay")


class ConstantConfig(Config):
    pass


class WarmupConfig(Config):
    warmup_steps: int = Field(100, ge=0, description="Steps of linear warm-up from 0")


class CosineConfig(Config):
    warmup_steps: int = Field(0, ge=0, description="Steps of linear warm-up from 0")
    min_factor: float = Field(0.1, ge=0, le=1, description="Final lr as a fraction of base lr")


# --- backends ---------------------------------------------------------------------------------

class CPUConfig(Config):
    threads: int = Field(1, ge=1, description="torch threads of a run, inline and on Dask "
                                              "workers alike (part of the run's identity: "
                                              "results depend on it)")
    deterministic: bool = Field(False, description="torch.use_deterministic_algorithms: refuse "
                                                   "ops without a deterministic implementation")


class CUDAConfig(Config):
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Autocast dtype (float32: no autocast)")
    tf32: bool = Field(True, description="Allow TF32 matmuls on Ampere and later")
    gpus: float = Field(1, gt=0, description="GPUs one run needs (Dask resource 'GPU')")
    deterministic: bool = Field(False, description="Deterministic kernels only (cuDNN and "
                                                   "torch.use_deterministic_algorithms)")


class MPSConfig(Config):
    pass


class AutoConfig(CPUConfig):
    def concrete(self, device: str) -> dict[str, Any] | None:
        """The backend reference ``auto`` stands for when torch picks ``device`` ("cpu",
        "cuda" or "mps"). ``Auto.concrete`` asks torch for the device; the light registry
        (``assay._plugins.light``) answers "cpu" without torch only where that is torch's
        answer on every machine. Both call this, so both give the same RunSpec."""
        if device == "cpu":
            return {"name": "cpu", **self.model_dump()}
        if device == "cuda":
            return {"name": "cuda", "deterministic": self.deterministic}
        return {"name": device}

