"""What recording a run costs, and how fast a recorded run resumes and replays lineages.

    PYTHONPATH=. .venv/bin/python benchmarks/checkpoint_bench.py [--births 1000000] [--repeats 2]

On the demo preset (never stopping early: sufficient_fitness = 0) it runs the same births
with a run directory (birth log + a snapshot every ``snapshot_every`` births, the default)
and without one (a plain ProgramSearch), alternating, and prints the overhead. Then, on the
recorded directory: resume_run() construction and its first chunk, from the final snapshot
and (on a copy without the newest snapshot) from the one before it, which replays and checks
the births logged since; and the regeneration of the deepest lineage among the kept best and
the final population.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path


def _cfg(births: int, seed: int):
    from zeroevo.runs.presets import load_preset

    return load_preset("demo").replace("run", max_births=births, sufficient_fitness=0.0, seed=seed)


def _plain(births: int, seed: int) -> tuple[float, float]:
    """Wall and CPU seconds of a search without a run directory."""
    from zeroevo.programs.search import ProgramSearch

    t, c = time.perf_counter(), time.process_time()
    ProgramSearch(_cfg(births, seed)).run()
    return time.perf_counter() - t, time.process_time() - c


def _recorded(births: int, seed: int, out: Path) -> tuple[float, float, float]:
    """Wall and CPU seconds of a recorded search, and the wall seconds spent recording.

    Recording = creating the directory, appending log batches, snapshots (population and
    FEC export included) and closing the log, timed directly around those calls: a figure
    the machine's noise does not swamp (best.json writes at restarts are not included).
    """
    from zeroevo.runs.lifecycle import start_run

    t, c = time.perf_counter(), time.process_time()
    search, _ = start_run(_cfg(births, seed), out)
    spent = [time.perf_counter() - t]  # creating the directory and meta.json

    def timed(fn):  # noqa: ANN001, ANN202
        def wrapper(*a, **k):  # noqa: ANN002, ANN003, ANN202
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[0] += time.perf_counter() - t0
        return wrapper

    search.recorder.append = timed(search.recorder.append)
    search.snapshot = timed(search.snapshot)
    search.recorder.close = timed(search.recorder.close)
    search.run()
    return time.perf_counter() - t, time.process_time() - c, spent[0]


def _resume(path: Path, until: int | None = None) -> tuple[float, float, float, int, int]:
    """resume_run() seconds, first-chunk seconds, seconds to reach ``until`` births, births
    checked against the log, births in the first chunk.

    ``until`` defaults to one chunk past the snapshot.
    """
    from zeroevo.runs.lifecycle import resume_run

    t = time.perf_counter()
    search = resume_run(path)
    built = time.perf_counter() - t
    start = search.state.birth
    first = []

    def progress(p) -> None:  # noqa: ANN001 - zeroevo.programs.search.Progress
        if not first:
            first.extend((time.perf_counter(), p.births - start))

    search.progress = progress
    # run() reads its limits from the config: stop one chunk on, or where the log ended.
    search.config = search.config.replace("run", max_births=until or start + search.config.run.chunk)
    t = time.perf_counter()
    search.run()
    total = time.perf_counter() - t
    return built, first[0] - t, total, search.recorder.checked, first[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--births", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="keep the recorded run directory here")
    args = ap.parse_args()

    from zeroevo.analysis.lineage import Lineage
    from zeroevo.analysis.programs import open_run, summary

    tmp = Path(tempfile.mkdtemp(prefix="zeroevo-ckpt-"))
    try:
        print(f"demo preset, {args.births:,} births, seed {args.seed}, snapshot_every "
              f"{_cfg(1, 1).run.snapshot_every:,}; warming the numba cache ...", flush=True)
        _plain(20_000, args.seed)
        plain, rec, spent = [], [], []
        run = tmp / "run"
        for k in range(args.repeats):
            # Alternate the order so slow drift of the machine does not favour one side.
            for side in (("plain", "recorded") if k % 2 == 0 else ("recorded", "plain")):
                if side == "plain":
                    plain.append(_plain(args.births, args.seed))
                    continue
                if run.exists():
                    shutil.rmtree(run)
                w, c, r = _recorded(args.births, args.seed, run)
                rec.append((w, c))
                spent.append(r)
            print(f"  repeat {k + 1}: plain {plain[-1][0]:.2f} s wall / {plain[-1][1]:.2f} s CPU   recorded "
                  f"{rec[-1][0]:.2f} s wall / {rec[-1][1]:.2f} s CPU (of which recording {spent[-1]:.2f} s)",
                  flush=True)
        pw, pc = min(p[0] for p in plain), min(p[1] for p in plain)
        rw, rc = min(r[0] for r in rec), min(r[1] for r in rec)
        size = sum(f.stat().st_size for f in run.rglob("*") if f.is_file())
        print(f"births/s       plain {args.births / pw:,.0f}   recorded {args.births / rw:,.0f}   (wall, best of "
              f"{args.repeats})")
        print(f"overhead       wall {100 * (rw - pw) / pw:+.1f} %, CPU {100 * (rc - pc) / pc:+.1f} % (best vs best; "
              f"machine noise included); time inside the recorder: {min(spent):.2f} s = "
              f"{100 * min(spent) / pw:.2f} % of the plain run")
        print(f"run directory  {size / 1e6:.1f} MB ({size / args.births:.1f} bytes per birth)")

        warm, behind = tmp / "warm", tmp / "behind"
        shutil.copytree(run, warm)
        shutil.copytree(run, behind)
        built0, first0, _, _, _ = _resume(warm)  # the first resume in a process also loads kernels
        built, first, _, _, n = _resume(run)
        print(f"resume         resume_run() {built * 1000:.0f} ms, first chunk ({n:,} births) {first * 1000:.0f} ms "
              f"(from the final snapshot at {args.births:,} births; the first resume in this process: "
              f"{built0 * 1000:.0f} ms + {first0 * 1000:.0f} ms, loading numba kernels)")
        snaps = sorted((behind / "snapshots").glob("snap-*.arrow"))
        if len(snaps) >= 2:
            snaps[-1].unlink()  # as if the run had died just before its last snapshot
            built, first, total, checked, n = _resume(behind, args.births)
            print(f"               resume_run() {built * 1000:.0f} ms, first chunk ({n:,} births) "
                  f"{first * 1000:.0f} ms "
                  f"(newest snapshot removed); replaying the {checked:,} births logged since the "
                  f"previous snapshot and checking them against the log: {total:.2f} s")

        s = summary(open_run(run))
        t = time.perf_counter()
        lin = Lineage(run, anchors=False)
        load = time.perf_counter() - t
        from zeroevo.runs.storage import read_bundle

        arrays, _ = read_bundle(sorted((run / "snapshots").glob("snap-*.arrow"))[-1])
        candidates = [b for b in arrays["pop_births"].tolist() if b >= 0]
        if s["best_birth"] is not None:
            candidates.append(s["best_birth"])
        deepest = max(candidates, key=lambda b: len(lin.chain(b)))
        depth = len(lin.chain(deepest))
        t = time.perf_counter()
        Lineage(run, anchors=False).genome(lin.chain(deepest)[1])  # loads the mutation kernel
        kernel = time.perf_counter() - t
        fresh = Lineage(run, anchors=False)
        t = time.perf_counter()
        fresh.genome(deepest)
        one = time.perf_counter() - t
        t = time.perf_counter()
        steps = lin.ancestry(deepest)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        lin.ancestry(deepest)
        warm_s = time.perf_counter() - t
        print(f"lineage        log load {load * 1000:.0f} ms; deepest chain: birth {deepest:,}, {depth:,} steps "
              f"from its init birth (first replay call in this process: {kernel * 1000:.0f} ms)")
        print(f"               regenerate that genome {one * 1000:.0f} ms ({one / depth * 1e6:.1f} us per step); "
              f"full ancestry with per-step diffs {cold * 1000:.0f} ms ({warm_s * 1000:.0f} ms again, "
              f"replay memoized); {sum(1 for st in steps if st.changes)} steps changed instructions")
        if args.keep:
            shutil.copytree(run, args.keep, dirs_exist_ok=True)
            print(f"kept the run directory in {args.keep}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
