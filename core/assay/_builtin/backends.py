"""Built-in backends: cpu, cuda, mps and auto."""
from __future__ import annotations

import contextlib
from typing import Any

import torch

from assay._builtin.configs import AutoConfig, CPUConfig, CUDAConfig, MPSConfig
from assay.kinds import Backend


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


class MPS(Backend):
    name = "mps"
    Config = MPSConfig

    def device(self) -> torch.device:
        return torch.device("mps")


class Auto(CPU):
    """cuda when a GPU is visible, else mps, else cpu, decided where the experiment loads:
    the run is recorded (and keyed) as the concrete backend, so a cached run never stands for
    a run on another device. To run on the workers' GPUs from a driver without one, name
    ``cuda``."""

    name = "auto"
    Config = AutoConfig  # type: ignore[assignment]

    def concrete(self) -> dict[str, Any] | None:
        return self.config.concrete(self.device().type)  # type: ignore[attr-defined]

    def device(self) -> torch.device:
        if torch.cuda.is_available():
            return torch.device("cuda", 0)
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")


BACKENDS = [CPU, CUDA, MPS, Auto]
