"""Peak memory of one piece of work, measured by torch's own profiler.

With ``profile_memory=True`` the profiler records every allocation and free of the tensor
allocator as a ``[memory]`` event (+bytes / -bytes). Summing them in time order gives the
bytes held at each moment; the maximum, relative to the start, is the peak the work needed on
top of what already existed. This is per piece of work, unlike the process's peak RSS, which
only ever grows. On CUDA the allocator's own peak counter is used instead.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import torch


def _cpu_peak(fn: Callable[[], object]) -> int:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    # kineto_results is the profiler's raw event list; the public events() view folds
    # allocations into the ops that made them and loses their order.
    cpu = torch.autograd.DeviceType.CPU
    events = sorted((ev.start_ns(), ev.nbytes()) for ev in prof.profiler.kineto_results.events()
                    if ev.name() == "[memory]" and ev.device_type() == cpu)
    held = peak = 0
    for _, nbytes in events:
        held += nbytes
        peak = max(peak, held)
    return peak


def peak_memory(fn: Callable[[], object], device: torch.device | None = None
                ) -> tuple[float, float]:
    """(peak MiB allocated by ``fn`` above its starting point, seconds of one unprofiled call)."""
    device = device or torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - base
    else:
        peak = _cpu_peak(fn)
    started = time.perf_counter()
    fn()
    return peak / 2**20, time.perf_counter() - started
