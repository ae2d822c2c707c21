"""zeroevo's demo search next to the C++ reference's own runs, restart by restart.

The figures quoted in docs/semantics.md are a summary; this script compares with the reference
itself. Build it (benchmarks/reference/Makefile), run its demo with the early stop off, e.g.

    benchmarks/reference/demo.sh /tmp/azref/run_search_experiment off 100 11 0 > ref_off_11.log
    benchmarks/reference/demo.sh /tmp/azref/run_search_experiment off 100 12 0 > ref_off_12.log
    PYTHONPATH=. python benchmarks/reference_compare.py --fec off ref_off_1*.log

and it runs as many zeroevo restarts (one process per job), then prints, after the same numbers
of births, the population's mean and best fitness averaged over restarts and the share of
restarts whose best passed 0.9999, and at the end the share of restarts that solve (select
fitness > 0.9999) on both sides with 95% intervals and a two-proportion test. Task seeds
differ between the two (each side draws its own), so only distributions can agree.

The reference's lines are read as it prints them: ``indivs=N, ..., mean=M, ..., best fit=B,``
after its initial population and every 10,000 individuals, and ``Select fitness for candidate
algorithm = S`` per restart (6 digits, enough for the 0.9999 threshold).

With ``--rate BINARY`` it instead times both on the same births, alternating, FEC on and off:
individuals per CPU-second of the reference (its process's own CPU time, read from /proc
when its progress line for that many births appears) and of zeroevo, and their ratio.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from demo_bench import many_restarts, rate, wilson

_PROGRESS = re.compile(r"indivs=(\d+), .*mean=([-\d.e+]+), .*best fit=([-\d.e+]+),")
_SELECT = re.compile(r"Select fitness for candidate algorithm = ([-\d.e+]+)")


@dataclass(frozen=True)
class Restart:
    """One restart: its select fitness and its (births, mean, best) progress points."""

    select: float
    progress: tuple[tuple[int, float, float], ...]


def read_reference(paths: list[str]) -> list[Restart]:
    """The finished restarts in the reference's stdout logs (a restart's progress restarts at
    its initial population; a run cut short leaves its last restart out)."""
    out: list[Restart] = []
    for path in paths:
        progress: list[tuple[int, float, float]] = []
        with open(path) as lines:
            for line in lines:
                if m := _PROGRESS.search(line):
                    births = int(m.group(1))
                    if progress and births <= progress[-1][0]:
                        progress = []
                    progress.append((births, float(m.group(2)), float(m.group(3))))
                elif m := _SELECT.search(line):
                    out.append(Restart(float(m.group(1)), tuple(progress)))
                    progress = []
    return out


def reference_rate(binary: str, fec: bool, seed: int, births: int) -> float:
    """The reference's individuals per CPU-second over its first ``births`` births (rounded
    up to where it prints progress), from its own CPU time when it prints that line."""
    demo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference", "demo.sh")
    cmd = [demo, binary, "on" if fec else "off", "1", str(seed), "0"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:  # demo.sh execs the binary
        try:
            for line in proc.stdout:
                if (m := _PROGRESS.search(line)) and int(m.group(1)) >= births:
                    with open(f"/proc/{proc.pid}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                    return int(m.group(1)) / cpu
        finally:
            proc.kill()
    raise SystemExit(f"error: {binary} ended before printing progress for {births} births")


def compare_rates(binary: str, seeds: list[int], births: int) -> None:
    """Reference and zeroevo rates on the same seeds and births, one after the other."""
    for fec in (True, False):
        n = births if fec else births // 3
        ref, ours = [], []
        for seed in seeds:
            ref.append(reference_rate(binary, fec, seed, n))
            ours.append(rate(fec, seed, n))
        mid = statistics.median(ref), statistics.median(ours)
        print(f"FEC {'on ' if fec else 'off'}: individuals per CPU-second over {n:,} births, seeds {seeds}: "
              f"reference median {mid[0]:,.0f} ({min(ref):,.0f}-{max(ref):,.0f}), zeroevo median "
              f"{mid[1]:,.0f} ({min(ours):,.0f}-{max(ours):,.0f}); ratio {mid[1] / mid[0]:.2f}x", flush=True)


def run_ours(fec: bool, restarts: int, jobs: int, first_seed: int) -> list[Restart]:
    """``restarts`` zeroevo demo restarts (no early stop), split over ``jobs`` processes."""
    with ProcessPoolExecutor(jobs) as pool:
        return [Restart(s, tuple(p)) for s, _, p in many_restarts(pool, fec, restarts, jobs, first_seed)]


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of a pooled two-proportion z test (are the two shares one share?)."""
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = abs(k1 / n1 - k2 / n2) / se
    return math.erfc(z / math.sqrt(2))


def table(ref: list[Restart], ours: list[Restart]) -> list[str]:
    """Progress rows up to the births every restart on both sides reached (both print at
    1000, 11000, 21000, ... births, so the k-th points line up)."""
    runs = ref + ours
    n = min(len(r.progress) for r in runs)
    rows = [f"{'births':>8}  {'mean fitness':>15}  {'best fitness':>15}  {'best > 0.9999':>15}",
            f"{'':>8}  {'ref / ours':>15}  {'ref / ours':>15}  {'ref / ours':>15}"]
    for k in range(n):
        cells = []
        for col in (1, 2):
            r, o = (statistics.fmean(x.progress[k][col] for x in side) for side in (ref, ours))
            cells.append(f"{r:.3f} / {o:.3f}")
        r, o = (sum(x.progress[k][2] > 0.9999 for x in side) / len(side) for side in (ref, ours))
        cells.append(f"{r:.0%} / {o:.0%}")
        rows.append(f"{runs[0].progress[k][0]:>8}  " + "  ".join(f"{c:>15}" for c in cells))
    return rows


def main() -> None:
    """Read the reference's logs, run as many of our restarts, print both side by side."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logs", nargs="*", help="stdout of benchmarks/reference/demo.sh runs")
    parser.add_argument("--fec", choices=["on", "off"], help="as the reference runs used")
    parser.add_argument("--rate", metavar="BINARY", help="time the reference binary against zeroevo instead")
    parser.add_argument("--births", type=int, default=600_000, help="births per rate measurement (FEC off: a third)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="seeds of the rate measurements")
    parser.add_argument("--restarts", type=int, default=0, help="zeroevo restarts (default: as many as the logs hold)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=101, help="first zeroevo seed (one per job)")
    args = parser.parse_args()
    if args.rate:
        compare_rates(args.rate, args.seeds, args.births)
        return
    if not args.logs or not args.fec:
        parser.error("give the reference's logs and --fec on|off (or --rate BINARY)")
    ref = read_reference(args.logs)
    if not ref:
        parser.error(f"no finished restart in {', '.join(args.logs)} (expected 'Select fitness for candidate "
                     f"algorithm = ...' lines from benchmarks/reference/demo.sh)")
    ours = run_ours(args.fec == "on", args.restarts or len(ref), args.jobs, args.seed)
    print(f"FEC {args.fec}: reference {len(ref)} restarts, zeroevo {len(ours)} restarts (seeds "
          f"{args.seed}..{args.seed + args.jobs - 1}); population after N births, averaged over restarts")
    print("\n".join(table(ref, ours)))
    solved = [sum(r.select > 0.9999 for r in side) for side in (ref, ours)]
    shares = []
    for name, k, n in (("reference", solved[0], len(ref)), ("zeroevo", solved[1], len(ours))):
        lo, hi = wilson(k, n)
        shares.append(f"{name} {k}/{n} = {k / n:.1%} (95% interval {lo:.0%}-{hi:.0%})")
    p = two_proportion_p(solved[0], len(ref), solved[1], len(ours))
    print(f"restarts that solve (select fitness > 0.9999): {'; '.join(shares)}; same share? p = {p:.2f}")


if __name__ == "__main__":
    main()
