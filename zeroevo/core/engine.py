"""The Python ``propose / commit`` loop of regularized evolution, for any search space.

This is the slow, obvious form of the algorithm: neural genomes (and any user space) run
through it, and for programs it is the reference the numba chunk loop must match birth for
birth (see :mod:`zeroevo.programs.chunk` for the shared rules). Randomness for birth ``t`` comes from
the stream keyed by ``(root_seed, island, t)``: the tournament draws first, then the space
draws its mutation (spaces with ``uses_stream`` get the raw stream; others a numpy
``Generator`` seeded from it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from zeroevo.core.births import BirthBatch
from zeroevo.core.objectives import tournament_winner
from zeroevo.core.protocols import STATUS_FEC_HIT, STATUS_OK, EvalResult
from zeroevo.core.rng import birth_key, integer, new_state, next_u64


@dataclass(frozen=True)
class Proposal:
    """A proposed birth: where it goes, where it came from and the child genome."""

    birth: int
    slot: int
    parent: int
    mutation: str
    genome: Any


class Engine:
    """A population ring plus the propose / commit steps of one island."""

    def __init__(self, space: Any, population: int, tournament: int, root_seed: int,
                 island: int = 0, algorithm: str = "regularized",
                 mutation_names: tuple[str, ...] = (), objectives: np.ndarray | None = None) -> None:
        self.space = space
        self.P = population
        self.T = tournament
        self.root_seed = root_seed
        self.island = island
        self.algorithm = algorithm
        self.mutation_names = mutation_names
        self.genomes: list[Any] = [None] * population
        self.fitness = np.full(population, -np.inf)
        self.cost = np.zeros(population)
        self.births = np.full(population, -1, dtype=np.int64)
        # [mode, limit, target, weight, cost kind] (Objectives.codes); None: fitness alone.
        self.objectives = objectives

    def _rng(self, st: np.ndarray) -> Any:
        if getattr(self.space, "uses_stream", False):
            return st
        return np.random.Generator(np.random.PCG64(int(next_u64(st))))

    def tournament(self, st: np.ndarray) -> int:
        """Slot of the best of T uniform draws with replacement (first of equals wins), by
        fitness or, with ``objectives``, by :func:`zeroevo.core.objectives.tournament_winner`."""
        members = [int(integer(st, self.P)) for _ in range(self.T)]
        if self.objectives is not None:
            mode, limit, target, weight = self.objectives[:4]
            return tournament_winner(self.fitness, self.cost, members, int(mode), limit, target, weight)
        best, best_fit = -1, -np.inf
        for k in members:
            if best == -1 or self.fitness[k] > best_fit:
                best, best_fit = k, self.fitness[k]
        return best

    def propose(self, t: int, b: int) -> Proposal:
        """The child of global birth ``t`` (restart-local birth ``b``)."""
        st = new_state(birth_key(self.root_seed, self.island, t))
        if b < self.P:
            initial = getattr(self.space, "initial", self.space.random)
            return Proposal(t, b, -1, "init", initial(self._rng(st)))
        if self.algorithm == "random":
            return Proposal(t, b % self.P, -1, "random", self.space.random(self._rng(st)))
        p = self.tournament(st)
        child, mutation = self.space.mutate(self.genomes[p], self._rng(st))
        return Proposal(t, b % self.P, int(self.births[p]), mutation, child)

    def commit(self, proposal: Proposal, result: EvalResult) -> None:
        """Put the evaluated child in its slot (replacing the oldest)."""
        self.genomes[proposal.slot] = proposal.genome
        self.fitness[proposal.slot] = result.fitness
        # A birth without a cost (its network failed to build) must not look free: in a Pareto
        # tournament the cheapest point is never dominated and always chosen at the ends.
        self.cost[proposal.slot] = float(result.metrics.get("cost", np.inf))
        self.births[proposal.slot] = proposal.birth

    def run(self, evaluate: Callable[[Any, int], EvalResult], t0: int, b0: int, n_max: int,
            steps0: int, max_steps: int, restart: int = 0) -> tuple[BirthBatch, int]:
        """Serial births from ``t0`` until ``n_max`` or the step budget (per generation).

        Returns the births' batch and the restart's training steps so far.
        """
        rows: list[tuple] = []
        steps = steps0
        for i in range(n_max):
            b = b0 + i
            if max_steps > 0 and b >= self.P and (b - self.P) % self.P == 0 and steps >= max_steps:
                break
            proposal = self.propose(t0 + i, b)
            result = evaluate(proposal.genome, proposal.birth)
            self.commit(proposal, result)
            steps += result.steps
            hits = int(result.metrics.get("fec_hits", 0))
            rows.append((proposal.birth, self.island, restart, proposal.parent,
                         self.mutation_names.index(proposal.mutation), result.status,
                         result.fitness, result.steps, hits, int(result.metrics.get("stage", 0)),
                         float(result.metrics.get("cost", 0.0))))
        if not rows:
            return BirthBatch.empty(), steps
        cols = list(zip(*rows))
        return BirthBatch(*(np.array(c) for c in cols)), steps


def program_status(hits: int, num_tasks: int) -> int:
    """A program birth's status: answered entirely by the FEC, or evaluated."""
    return STATUS_FEC_HIT if hits == num_tasks else STATUS_OK
