"""The first five minutes: install, compile, first birth, demo solved; cold and warm, side by side.

    PYTHONPATH=. python benchmarks/cold_start.py [--before REV] [--seeds 1 2] [--no-install]

For the working tree and, with ``--before``, an earlier revision (checked out with
``git worktree`` into a temporary folder), runs ``zeroevo evolve --preset demo`` as a user
would, twice per seed: *cold* (empty numba and zeroevo caches, a fresh source tree) and
*warm* (the caches the cold run left), seed by seed with the revisions in turn. It prints,
per revision: seconds to the first progress line with births from search, the compile
seconds the run reports (or, for code that does not report them, the seconds before the
first birth; a warm run reports none), CPU-seconds of the whole process (helper processes
included) until the demo is solved, and the wall seconds. Without ``--no-install`` it also
times ``pip install`` of the working tree into a fresh virtual environment (torch pinned by
``.ci/constraints.txt``), the README's first step. Everything runs one process at a time.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed_install(tmp: Path) -> float:
    """Seconds to create a venv and ``pip install -c .ci/constraints.txt .`` from this checkout."""
    venv = tmp / "venv"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-c", str(ROOT / ".ci" / "constraints.txt"),
                    str(ROOT)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def run_demo(tree: Path, cache: Path, seed: int, out: Path) -> dict:
    """One ``zeroevo evolve --preset demo`` from source tree ``tree`` with caches under ``cache``."""
    env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_CACHE_DIR": str(cache / "numba"),
           "ZEROEVO_CACHE_DIR": str(cache / "zeroevo")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    # Not --json: it silences the progress lines on a pipe, and they are what is timed here.
    proc = subprocess.Popen([sys.executable, "-m", "zeroevo.cli", "evolve", "--preset", "demo", "--seed", str(seed),
                             "--out", str(out)], cwd=tree, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first_birth = None
    for line in proc.stderr:  # progress lines arrive as they are printed
        if first_birth is None and line.lstrip().startswith("births"):
            first_birth = time.perf_counter() - t0
    stdout = proc.stdout.read()
    proc.wait()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    compiled = re.search(r"compile ([0-9.]+) s", stdout)
    if compiled is None:  # none printed: none happened, or (older code) not reported
        compiled_s = 0.0 if "search CPU" in stdout else first_birth
    else:
        compiled_s = float(compiled.group(1))
    return {"first_birth": first_birth, "compile": compiled_s,
            "cpu": cpu, "wall": wall, "solved": "solved True" in stdout}


def measure(tree: Path, seed: int, tmp: Path, out: dict[str, list[dict]]) -> None:
    """A cold then a warm run of the demo from ``tree`` (fresh caches), appended to ``out``."""
    cache = Path(tempfile.mkdtemp(dir=tmp))
    for pycache in tree.rglob("__pycache__"):  # in-tree numba caches of older code
        shutil.rmtree(pycache, ignore_errors=True)
    out["cold"].append(run_demo(tree, cache, seed, cache / "cold"))
    out["warm"].append(run_demo(tree, cache, seed, cache / "warm"))


def _fmt(rows: list[dict], key: str) -> str:
    values = [r[key] for r in rows if r[key] is not None]
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{med:.1f}" if len(values) == 1 else f"{med:.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", help="a git revision to compare with (e.g. the commit before a change)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--no-install", action="store_true", help="skip timing pip install")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="zeroevo-cold-"))
    try:
        install = None if args.no_install else timed_install(tmp)
        trees = {}
        if args.before:
            worktree = tmp / "before"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(worktree), args.before],
                           check=True)
            trees[f"before ({args.before})"] = worktree
        now = tmp / "now"  # the working tree, copied so the cold run finds no caches in it
        shutil.copytree(ROOT, now, ignore=lambda d, names: [n for n in names if n in (".git", ".venv", "__pycache__")
                                                            or (Path(d) == ROOT and n == "runs")])
        trees["this tree"] = now
        # Seed by seed, the trees in turn: a machine whose speed drifts (a shared host) skews
        # both columns alike.
        results: dict[str, dict[str, list[dict]]] = {name: {"cold": [], "warm": []} for name in trees}
        for seed in args.seeds:
            for name, tree in trees.items():
                measure(tree, seed, tmp, results[name])
    finally:
        if args.before:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "before")],
                           check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    names = list(results)
    print(f"demo preset, seeds {args.seeds}; median (range) over seeds; one process at a time")
    if install is not None:
        print(f"install (venv + pip install -c .ci/constraints.txt .): {install:.0f} s")
    print("| | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for mode in ("cold", "warm"):
        for key, label in (("first_birth", "s to first search birth"), ("compile", "compile s"),
                           ("cpu", "CPU-s until solved (whole process)"), ("wall", "wall s until solved")):
            print(f"| {mode}: {label} | " + " | ".join(_fmt(results[n][mode], key) for n in names) + " |")
    solved = {n: sum(r["solved"] for r in results[n]["cold"] + results[n]["warm"]) for n in names}
    print("solved runs: " + ", ".join(f"{n}: {k} of {2 * len(args.seeds)}" for n, k in solved.items()))


if __name__ == "__main__":
    main()
