"""Program births per CPU-second on every program preset, this tree against an earlier one.

    PYTHONPATH=. python benchmarks/throughput_bench.py [--before REV] [--scale 1.0]

For each program preset (demo, nonlinear, the binary Fashion-MNIST ones: F = 16, 8,000
training examples per task), runs ``zeroevo evolve`` for a fixed number of births (seed 1,
sufficient fitness off, kernels compiled beforehand by a warm-up run) and prints births per
CPU-second of search, the FEC hit rate, and, with ``--before``, the same for an earlier
revision (checked out with ``git worktree``; presets it does not have are skipped) and the
ratio. One process at a time; CPU time is the search's own (``cpu_seconds``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIRTHS = {"demo": 400_000, "nonlinear": 200_000, "binary-fashion": 4_000, "binary-fashion-basic": 1_500,
          "binary-fashion-adapt-nn": 3_000}


def run(tree: Path, preset: str, births: int, tmp: Path) -> dict | None:
    """One search of ``births`` births from source tree ``tree`` (None: the tree lacks the preset)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    toml = tmp / f"{preset}.toml"
    toml.write_text(f'preset = "{preset}"\n[run]\nsufficient_fitness = 0.0\nseed = 1\n')
    out = tmp / f"run-{abs(hash((str(tree), preset, births)))}"
    proc = subprocess.run([sys.executable, "-m", "zeroevo.cli", "evolve", "--config", str(toml), "--max-births",
                           str(births), "--out", str(out), "--json", "--quiet"], cwd=tree, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        if "unknown preset" in proc.stderr:
            return None
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", help="a git revision to compare with")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every birth count")
    ap.add_argument("--presets", nargs="+", default=list(BIRTHS))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="zeroevo-throughput-"))
    trees = {"this tree": ROOT}
    if args.before:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tmp / "before"),
                        args.before], check=True)
        trees = {f"before ({args.before})": tmp / "before", **trees}
    rows = {}
    try:
        for preset in args.presets:
            births = max(100, int(BIRTHS[preset] * args.scale))
            for name, tree in trees.items():
                if run(tree, preset, 300, tmp) is None:  # warm-up: compile the kernels
                    continue
                r = run(tree, preset, births, tmp)
                rows[(preset, name)] = (births / r["cpu_seconds"], r.get("fec_hit_rate", 0.0))
                print(f"{preset:<26} {name:<22} {births / r['cpu_seconds']:>10,.0f} births/CPU-s", flush=True)
    finally:
        if args.before:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "before")], check=False)
    names = list(trees)
    print("\n| preset | births | " + " | ".join(f"{n}: births/CPU-s (FEC hits)" for n in names)
          + (" | ratio |" if len(names) == 2 else " |"))
    print("|---|---|" + "---|" * len(names) + ("---|" if len(names) == 2 else ""))
    for preset in args.presets:
        cells = []
        for n in names:
            v = rows.get((preset, n))
            cells.append("n/a" if v is None else f"{v[0]:,.0f} ({v[1]:.0%})")
        ratio = ""
        if len(names) == 2 and all((preset, n) in rows for n in names):
            ratio = f" | {rows[(preset, names[1])][0] / rows[(preset, names[0])][0]:.2f}x"
        print(f"| {preset} | {max(100, int(BIRTHS[preset] * args.scale)):,} | " + " | ".join(cells) + ratio
              + (" |" if ratio or len(names) != 2 else " | |"))


if __name__ == "__main__":
    main()
