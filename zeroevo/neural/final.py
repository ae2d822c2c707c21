"""The final stage of a neural search: the top architectures, retrained at full fidelity and tested.

A search ranks candidates by a cheap proxy (validation accuracy after a short training). As
AutoML-Zero's search -> select -> final protocol does for programs, the end of a neural run
takes the ``top_k`` *distinct* architectures of the whole log (by search fitness, earlier
birth first among equals), retrains each ``seeds`` times at the ``[final]`` fidelity, and
picks the winner by mean *validation* accuracy; only then is the held-out test split
measured, for every candidate, so the test accuracy reported never chose anything.

The trainings go through the run's dispatcher (workers train them in parallel) and each is
recorded in ``final.json`` as it completes, so ``zeroevo resume`` finishes a final stage
that was cut short without repeating what was done.
"""
from __future__ import annotations

import dataclasses
import json
import statistics
from dataclasses import dataclass
from typing import Any, Callable

from zeroevo.core.protocols import EvalRequest, EvalResult
from zeroevo.core.rng import key_of, train_seed

KEY_BASE = 1 << 40  # dispatcher keys of final trainings (birth numbers never get there)
_PURPOSE_FINAL = 6  # seeds of final retrainings, apart from the search's training seeds
ARCHIVE_SIZE = 64


class Archive:
    """The best search fitness of each distinct architecture seen, the top ``ARCHIVE_SIZE`` kept."""

    def __init__(self, entries: list | None = None) -> None:
        self.entries: dict[str, tuple[float, int]] = {g: (float(f), int(b)) for g, f, b in entries or []}

    def add(self, genome: dict, fitness: float, birth: int) -> None:
        """Remember ``genome``'s fitness if it is its best (first birth wins among equals)."""
        key = json.dumps(genome, sort_keys=True)
        old = self.entries.get(key)
        if old is None or fitness > old[0]:
            self.entries[key] = (float(fitness), int(birth))
        if len(self.entries) > 2 * ARCHIVE_SIZE:
            self.entries = dict(self.top(ARCHIVE_SIZE, raw=True))

    def top(self, k: int, raw: bool = False) -> list:
        """The ``k`` best ``(genome, fitness, birth)``, best first (earlier birth among equals)."""
        ranked = sorted(self.entries.items(), key=lambda e: (-e[1][0], e[1][1]))[:k]
        if raw:
            return ranked
        return [(json.loads(g), f, b) for g, (f, b) in ranked]

    def to_json(self) -> list:
        """Plain data for a snapshot."""
        return [[g, f, b] for g, (f, b) in self.top(ARCHIVE_SIZE, raw=True)]


def final_seed(root_seed: int, birth: int, repeat: int) -> int:
    """The training seed of retraining ``repeat`` of the architecture first seen at ``birth``."""
    return int(key_of(train_seed(root_seed, birth), _PURPOSE_FINAL, repeat)) >> 1


@dataclass(frozen=True)
class FinalRun:
    """One retraining of one candidate."""

    rank: int
    repeat: int
    seed: int
    val_accuracy: float
    test_accuracy: float
    params: int
    flops: int
    train_seconds: float
    status: int
    reason: str = ""


def _summary(candidates: list[dict], runs: list[FinalRun], top_k: int, repeats: int) -> dict:
    out = []
    for rank, cand in enumerate(candidates):
        mine = [r for r in runs if r.rank == rank]
        entry = {**cand, "rank": rank, "runs": [dataclasses.asdict(r) for r in sorted(mine, key=lambda r: r.repeat)]}
        if mine:
            entry.update(val_accuracy=statistics.fmean(r.val_accuracy for r in mine),
                         test_accuracy=statistics.fmean(r.test_accuracy for r in mine),
                         params=mine[0].params, flops=mine[0].flops)
        out.append(entry)
    done = [c for c in out if len(c["runs"]) == repeats]
    winner = max(done, key=lambda c: (c["val_accuracy"], -c["rank"]))["rank"] if done else None
    return {"top_k": top_k, "seeds": repeats, "candidates": out, "winner": winner,
            "complete": len(done) == len(candidates)}


def run_final_stage(space: str, archive: Archive, root_seed: int, final: Any, dispatcher: Any,
                    stored: dict | None, save: Callable[[dict], None] | None) -> dict:
    """Retrain the archive's top ``final.top_k`` through ``dispatcher`` (``final`` is the
    config's ``[final]`` section); ``stored`` is an earlier, unfinished ``final.json``.

    Returns the ``final.json`` data: the candidates, their runs, the winner's rank.
    """
    top = archive.top(final.top_k)
    candidates = [{"birth": b, "search_fitness": f, "genome": g} for g, f, b in top]
    runs = []
    if stored and [c["genome"] for c in stored.get("candidates", [])] == [c["genome"] for c in candidates]:
        runs = [FinalRun(**r) for c in stored["candidates"] for r in c["runs"]]
    done = {(r.rank, r.repeat) for r in runs}
    budget = {**final.budget(), "max_seconds": final.max_seconds or None, "test": True}
    keys = {}
    for rank, cand in enumerate(candidates):
        for repeat in range(final.seeds):
            if (rank, repeat) in done:
                continue
            key = KEY_BASE + rank * 1000 + repeat
            seed = final_seed(root_seed, cand["birth"], repeat)
            dispatcher.submit(key, EvalRequest(space, cand["genome"], seed, cand["birth"], budget=budget))
            keys[key] = (rank, repeat, seed)
    for key in sorted(keys):
        rank, repeat, seed = keys[key]
        result: EvalResult = dispatcher.wait(key)
        m = result.metrics
        runs.append(FinalRun(rank, repeat, seed, float(m.get("val_accuracy", 0.0)), float(m.get("test_accuracy", 0.0)),
                             int(m.get("params", 0)), int(m.get("flops", 0)), float(m.get("train_seconds", 0.0)),
                             int(result.status), result.reason))
        if save is not None:
            save(_summary(candidates, runs, final.top_k, final.seeds))
    return _summary(candidates, runs, final.top_k, final.seeds)


def winner(final_data: dict) -> dict | None:
    """The winning candidate of ``final.json`` data (None before any candidate finished)."""
    if not final_data or final_data.get("winner") is None:
        return None
    return final_data["candidates"][final_data["winner"]]
