"""Built-in backends: cpu, cuda, mps and auto."""
from __future__ import annotations

import contextlib
import os
from typing import Any, Literal

import torch
from pydantic import Field

from assay.kinds import Backend, Config


class CPUConfig(Config):
    threads: int = Field(0, ge=0, description="torch threads (0: 1 on Dask workers, else "
                                              "torch's default)")


class CPU(Backend):
    name = "cpu"
    Config = CPUConfig

    def device(self) -> torch.device:
        return torch.device("cpu")

    def setup(self, seed: int) -> None:
        super().setup(seed)
        threads = self.config.threads or (1 if os.environ.get("ASSAY_WORKER") else 0)
        if threads and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


class CUDAConfig(Config):
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Autocast dtype (float32: no autocast)")
    tf32: bool = Field(True, description="Allow TF32 matmuls on Ampere and later")
    gpus: float = Field(1, gt=0, description="GPUs one run needs (Dask resource 'GPU')")


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


class AutoConfig(Config):
    pass


class Auto(CPU):
    """cuda when a GPU is visible, else mps, else cpu (resolved where the run executes)."""

    name = "auto"
    Config = AutoConfig  # type: ignore[assignment]

    def device(self) -> torch.device:
        if torch.cuda.is_available():
            return torch.device("cuda", 0)
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")

    def setup(self, seed: int) -> None:
        Backend.setup(self, seed)
        if os.environ.get("ASSAY_WORKER") and torch.get_num_threads() != 1:
            torch.set_num_threads(1)


BACKENDS = [CPU, CUDA, MPS, Auto]
