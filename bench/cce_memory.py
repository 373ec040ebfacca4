"""Peak memory and time of the cross-entropy forward+backward: materialised logits vs the
tile-by-tile loss of the cut-cross-entropy plugin (arXiv:2411.09009).

    .venv/bin/python bench/cce_memory.py                          # N=4096, D=256, V=32768
    .venv/bin/python bench/cce_memory.py --vocab 32768 65536 --repeats 3

Every (variant, vocabulary) runs in a fresh Python process so that nothing one variant
allocated can hide in another's numbers. Each process builds random features E (N, D), a
classifier W (V, D) and targets, runs one small warm-up, then measures one forward+backward:

- rss_mb: growth of the resident set during the call (Linux VmHWM, reset just before the call
  through /proc/self/clear_refs, minus VmRSS before it): what the operating system saw;
- alloc_mb: peak bytes held by torch's allocator above the start, from torch.profiler's
  memory events: what the tensors needed;
- time_s: median wall time of --repeats unprofiled calls.

The parent checks that loss and gradients agree across variants and prints the ratios.
Requires the plugin: pip install -e plugins/cut-cross-entropy.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def worker(args: argparse.Namespace) -> None:
    import torch
    import torch.nn.functional as F

    from assay_cut_cross_entropy._blockwise import linear_cross_entropy
    from assay_cut_cross_entropy._memory import peak_memory

    torch.manual_seed(0)

    def make(n: int, v: int) -> tuple[torch.Tensor, ...]:
        e = torch.randn(n, args.dim).requires_grad_()
        w = (torch.randn(v, args.dim) / args.dim ** 0.5).requires_grad_()
        return e, w, torch.randint(v, (n,))

    def loss_fn(e: torch.Tensor, w: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if args.worker == "materialized":
            return F.cross_entropy(e @ w.T, y)
        return linear_cross_entropy(e, w, None, y, token_block=args.token_block,
                                    vocab_block=args.vocab_block)

    def step(e: torch.Tensor, w: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = loss_fn(e, w, y)
        loss.backward()
        return loss.detach()

    step(*make(256, 2048))                             # warm-up: thread pools, kernels
    e, w, y = make(args.tokens, args.vocab)
    rss_before = _status_kb("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to now
        hwm_reset = True
    except OSError:
        hwm_reset = False
    loss = step(e, w, y)
    rss_mb = (_status_kb("VmHWM") - rss_before) / 1024
    grads = (e.grad.clone(), w.grad.clone())

    def again() -> None:
        e.grad = w.grad = None
        step(e, w, y)

    alloc_mb, _ = peak_memory(again)
    times = []
    for _ in range(args.repeats):
        e.grad = w.grad = None
        started = time.perf_counter()
        step(e, w, y)
        times.append(time.perf_counter() - started)
    torch.save({"loss": loss, "de": grads[0], "dw": grads[1]}, args.out)
    print(json.dumps({"rss_mb": rss_mb, "alloc_mb": alloc_mb, "hwm_reset": hwm_reset,
                      "time_s": statistics.median(times), "loss": float(loss)}))


def run_variant(variant: str, vocab: int, args: argparse.Namespace, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", variant, "--out", str(out),
           "--tokens", str(args.tokens), "--dim", str(args.dim), "--vocab", str(vocab),
           "--repeats", str(args.repeats), "--token-block", str(args.token_block),
           "--vocab-block", str(args.vocab_block)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{variant} V={vocab} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(paths: dict[str, Path]) -> dict[str, float]:
    import torch

    a, b = (torch.load(paths[v]) for v in ("materialized", "blockwise"))
    def rel(x: torch.Tensor, y: torch.Tensor) -> float:
        return float((x - y).abs().max() / y.abs().max())

    return {"loss": rel(b["loss"], a["loss"]), "dE": rel(b["de"], a["de"]),
            "dW": rel(b["dw"], a["dw"])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", type=int, default=4096, help="N, tokens in the batch")
    p.add_argument("--dim", type=int, default=256, help="D, feature size")
    p.add_argument("--vocab", type=int, nargs="+", default=[32768], help="V, one or more")
    p.add_argument("--repeats", type=int, default=2, help="timed calls per variant")
    p.add_argument("--token-block", type=int, default=1024)
    p.add_argument("--vocab-block", type=int, default=4096)
    p.add_argument("--worker", choices=["materialized", "blockwise"], help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        args.vocab = args.vocab[0]
        return worker(args)
    print(f"cross-entropy forward+backward, N={args.tokens} D={args.dim}, tiles "
          f"{args.token_block}x{args.vocab_block}, fresh process per variant")
    print(f"{'V':>7} {'variant':>13} {'rss_mb':>9} {'alloc_mb':>9} {'time_s':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for vocab in args.vocab:
            paths = {v: Path(tmp) / f"{v}-{vocab}.pt" for v in ("materialized", "blockwise")}
            res = {v: run_variant(v, vocab, args, paths[v]) for v in paths}
            for v, r in res.items():
                print(f"{vocab:>7} {v:>13} {r['rss_mb']:>9.1f} {r['alloc_mb']:>9.1f} "
                      f"{r['time_s']:>8.2f}")
            m, b = res["materialized"], res["blockwise"]
            err = compare(paths)
            print(f"{vocab:>7} {'ratio m/b':>13} {m['rss_mb'] / b['rss_mb']:>9.1f} "
                  f"{m['alloc_mb'] / b['alloc_mb']:>9.1f} {m['time_s'] / b['time_s']:>8.2f}"
                  f"   max rel. diff: loss {err['loss']:.1e}, dE {err['dE']:.1e}, "
                  f"dW {err['dW']:.1e}"
                  + ("" if m["hwm_reset"] else "   (VmHWM could not be reset: rss_mb is "
                                               "an upper bound)"))


if __name__ == "__main__":
    main()
