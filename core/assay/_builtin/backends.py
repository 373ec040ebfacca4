"""Built-in backends: cpu, cuda, mps and auto."""
from __future__ import annotations

import contextlib
from typing import Any, Literal

import torch
from pydantic import Field

from assay.kinds import Backend, Config


class CPUConfig(Config):
    threads: int = Field(1, ge=1, description="torch threads of a run, inline and on Dask "
                                              "workers alike (part of the run's identity: "
                                              "results depend on it)")
    deterministic: bool = Field(False, description="torch.use_deterministic_algorithms: refuse "
                                                   "ops without a deterministic implementation")


class CPU(Backend):
    """The CPU, with a fixed torch thread count (``threads``, default 1).

    A reduction split over another number of threads sums in another order, so the count is
    configuration (and so part of the run key), never the machine's default.
    """

    name = "cpu"
    Config = CPUConfig

    def device(self) -> torch.device:
        return torch.device("cpu")

    def setup(self, seed: int) -> None:
        super().setup(seed)
        if torch.get_num_threads() != self.config.threads:
            torch.set_num_threads(self.config.threads)
        torch.use_deterministic_algorithms(self.config.deterministic)


class CUDAConfig(Config):
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Autocast dtype (float32: no autocast)")
    tf32: bool = Field(True, description="Allow TF32 matmuls on Ampere and later")
    gpus: float = Field(1, gt=0, description="GPUs one run needs (Dask resource 'GPU')")
    deterministic: bool = Field(False, description="Deterministic kernels only (cuDNN and "
                                                   "torch.use_deterministic_algorithms)")


class CUDA(Backend):
    """One CUDA device per worker: the worker's CUDA_VISIBLE_DEVICES pins which one."""

    name = "cuda"
    Config = CUDAConfig

    def device(self) -> torch.device:
        return torch.device("cuda", 0)

    def resources(self) -> dict[str, float]:
        return {"GPU": self.config.gpus}

    def setup(self, seed: int) -> None:
        super().setup(seed)
        torch.backends.cuda.matmul.allow_tf32 = self.config.tf32   # flags only: no device
        torch.backends.cudnn.allow_tf32 = self.config.tf32         # needed to set them
        torch.backends.cudnn.deterministic = self.config.deterministic
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(self.config.deterministic)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.config.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=getattr(torch, self.config.dtype))


class MPSConfig(Config):
    pass


class MPS(Backend):
    name = "mps"
    Config = MPSConfig

    def device(self) -> torch.device:
        return torch.device("mps")


class AutoConfig(CPUConfig):
    pass


class Auto(CPU):
    """cuda when a GPU is visible, else mps, else cpu, decided where the experiment loads:
    the run is recorded (and keyed) as the concrete backend, so a cached run never stands for
    a run on another device. To run on the workers' GPUs from a driver without one, name
    ``cuda``."""

    name = "auto"
    Config = AutoConfig  # type: ignore[assignment]

    def concrete(self) -> dict[str, Any] | None:
        device = self.device().type
        if device == "cpu":
            return {"name": "cpu", **self.config.model_dump()}
        if device == "cuda":
            return {"name": "cuda", "deterministic": self.config.deterministic}
        return {"name": device}

    def device(self) -> torch.device:
        if torch.cuda.is_available():
            return torch.device("cuda", 0)
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")


BACKENDS = [CPU, CUDA, MPS, Auto]
