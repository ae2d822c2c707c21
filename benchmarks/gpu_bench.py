"""GPU throughput of neural search: candidates per minute, GPU utilisation, concurrency, precision.

    PYTHONPATH=. python benchmarks/gpu_bench.py [--space nasnet] [--seconds 40] [--workers 1 4]
        [--precisions auto fp32] [--data-path DIR] [--epochs N --train-subset N] [--device cuda]

One prepared script for a lent H100/H200, under 5 minutes with the defaults. For each
precision (``auto``: bf16 autocast where the GPU has it, else fp16; ``fp32``) and each worker
count, the space's Fashion-MNIST preset searches at the preset's own fidelity (or the
``--epochs`` / ``--train-subset`` given) for ``--seconds`` of wall time, final stage off, with
that many worker processes sharing the one GPU: 1 worker trains one candidate at a time,
N workers train N at once. Data stays resident on the GPU: the trainer copies a training's
images to the device once and slices batches there (no loader, no host copy per step). Every
configuration has the same lag, so each proposes the same candidates in the same order.

Prints per configuration the candidates trained, candidates per minute between the first and
the last commit (steady state) and over the whole wall time (worker start-up included), GPU
utilisation (mean and max of ``nvidia-smi`` samples every 0.5 s while the search ran; "n/a"
without nvidia-smi) and the steady speed-up over the first configuration. Without CUDA it says
that no GPU is present and exits with status 2; ``--device cpu`` runs the same protocol on
the CPU, a smoke test of the script itself (no utilisation).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading

from benchmarks.proxy_rank import PRESETS
from zeroevo.runs.presets import load_preset


class Utilisation:
    """Samples one GPU's utilisation (percent) with ``nvidia-smi`` every ``period`` seconds
    in a thread, between ``start()`` and ``stop()``; ``samples`` is empty without nvidia-smi."""

    def __init__(self, gpu: str, period: float = 0.5) -> None:
        self.gpu, self.period = gpu, period
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Utilisation":
        if shutil.which("nvidia-smi"):
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> list[float]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.samples

    def _sample(self) -> None:
        cmd = ["nvidia-smi", "-i", self.gpu, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
        while not self._stop.wait(self.period):
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout.split()
                self.samples.append(float(out[0]))
            except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
                pass  # a missed sample is not worth failing a benchmark for


def measure(cfg, gpu: str | None) -> dict:
    """Run one search; candidates, steady and overall rates, utilisation samples."""
    from zeroevo.neural.search import NeuralSearch

    commits: list[tuple[int, float]] = []
    util = Utilisation(gpu).start() if gpu is not None else None
    try:
        result = NeuralSearch(cfg, progress=lambda p: commits.append((p.births, p.wall_seconds))).run()
    finally:
        samples = util.stop() if util else []
    (b0, t0), (b1, t1) = (commits[0], commits[-1]) if commits else ((0, 0.0), (0, 0.0))
    return {"births": result.births, "failed": result.failed,
            "steady": 60 * (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0,
            "overall": 60 * result.births / result.wall_seconds if result.wall_seconds else 0.0,
            "util": (statistics.mean(samples), max(samples)) if samples else None}


def main() -> None:
    """Time the search for each precision and worker count."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", choices=list(PRESETS), default="nasnet")
    ap.add_argument("--seconds", type=float, default=40.0, help="wall time of each configuration's search")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--precisions", nargs="+", default=["auto", "fp32"], choices=["auto", "bf16", "fp16", "fp32"])
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu (a smoke test of this script)")
    ap.add_argument("--data-path", default="", help="folder with the Fashion-MNIST IDX files ('' = the default place)")
    ap.add_argument("--epochs", type=int, default=0, help="epochs per candidate (0 = the preset's)")
    ap.add_argument("--train-subset", type=int, default=-1, help="training images per candidate (-1 = the preset's)")
    args = ap.parse_args()
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_bench: no GPU is present here (torch.cuda.is_available() is False), so there is nothing to "
              "measure; run it on a machine with a CUDA GPU, or with --device cpu to smoke-test the script")
        sys.exit(2)
    cfg = load_preset(PRESETS[args.space]).replace("final", top_k=0).replace("evaluation", device=args.device)
    if args.data_path:
        cfg = cfg.replace("data", path=args.data_path)
    fid = cfg.fidelity
    cfg = cfg.replace("fidelity", epochs=args.epochs or fid.epochs,
                      train_subset=fid.train_subset if args.train_subset < 0 else args.train_subset)
    fid = cfg.fidelity
    lag = max(args.workers)
    gpu = None
    if args.device.startswith("cuda"):
        index = torch.device(args.device).index or 0
        visible = [v for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v]
        gpu = visible[index] if index < len(visible) else str(index)
        name = torch.cuda.get_device_name(index)
    else:
        name = f"CPU ({os.cpu_count()} cores)"
    print(f"{name}: {args.space} ({PRESETS[args.space]}), {fid.epochs} epoch(s) on {fid.train_subset:,} images, "
          f"batch {fid.batch_size}, {args.seconds:.0f} s per configuration, lag {lag}", flush=True)
    print("| precision | workers | candidates | per minute (steady) | per minute (with start-up) | "
          "GPU utilisation mean / max | speed-up (steady) |")
    print("|---|---|---|---|---|---|---|")
    first = None
    for precision in args.precisions:
        for workers in args.workers:
            run = cfg.replace("fidelity", precision=precision).replace(
                "dispatch", backend="process", workers=workers, lag=lag).replace(
                "run", max_births=0, max_seconds=args.seconds)
            r = measure(run, gpu)
            first = first or r["steady"] or None
            util = f"{r['util'][0]:.0f}% / {r['util'][1]:.0f}%" if r["util"] else "n/a"
            speedup = f"{r['steady'] / first:.2f}x" if first else "-"
            print(f"| {precision} | {workers} | {r['births']} ({r['failed']} failed) | {r['steady']:.1f} | "
                  f"{r['overall']:.1f} | {util} | {speedup} |", flush=True)


if __name__ == "__main__":
    main()
