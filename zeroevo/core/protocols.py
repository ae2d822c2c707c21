"""The small protocols at zeroevo's extension points, and the plain records that cross them.

A *search space* makes and mutates genomes; an *evaluator* turns an evaluation request into a
result. Only plain data (:class:`EvalRequest`, :class:`EvalResult`, JSON-able encodings)
crosses a process or machine boundary: workers rebuild spaces and evaluators from
``(name, config)`` through :mod:`zeroevo.core.registry`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

# Status values of a birth (stored as small ints in the birth log).
STATUS_OK = 0
STATUS_FEC_HIT = 1
STATUS_FAILED = 2  # evaluation failed (NaN, out of memory, shape error, over a limit)
STATUS_STOPPED = 3  # stopped at a hurdle
STATUS_SCREENED = 4  # proposed, then not trained: a surrogate predicted a sibling better
STATUS_NAMES = ("ok", "fec_hit", "failed", "hurdle", "screened")


@runtime_checkable
class SearchSpace(Protocol):
    """Makes random genomes and mutates them; genomes are immutable values.

    ``rng`` is a ``numpy.random.Generator`` derived from the birth's key, so the same birth
    always draws the same numbers.
    """

    name: str

    def random(self, rng: np.random.Generator) -> Any:
        """A random initial genome."""

    def mutate(self, genome: Any, rng: np.random.Generator) -> tuple[Any, str]:
        """A mutated copy of ``genome`` and the name of the mutation applied."""

    def encode(self, genome: Any) -> dict:
        """A JSON-able description of ``genome`` (what the log and workers see)."""

    def decode(self, data: dict) -> Any:
        """The genome described by ``data``; raises ``GenomeError`` if it is malformed."""

    def render(self, genome: Any) -> str:
        """Readable text of ``genome``."""


@dataclass(frozen=True)
class EvalRequest:
    """Everything a stateless worker needs to evaluate one candidate."""

    space: str
    genome: dict
    seed: int
    birth: int = 0
    budget: dict = field(default_factory=dict)
    hurdles: tuple[float, ...] = ()
    parent_state: bytes | None = None  # weights to inherit (npz bytes, see neural_eval), optional
    keep_state: bool = False  # return the trained weights in EvalResult.state


@dataclass(frozen=True)
class EvalResult:
    """What evaluation found: fitness in [0, 1] (higher is better) and named metrics."""

    fitness: float
    status: int = STATUS_OK
    metrics: dict = field(default_factory=dict)
    steps: int = 0
    reason: str = ""
    state: bytes | None = None  # trained weights (npz bytes) when the caller asked to keep them


@runtime_checkable
class Evaluator(Protocol):
    """Evaluates candidates; must be deterministic given the request."""

    def evaluate(self, request: EvalRequest) -> EvalResult:
        """The result of training/testing the requested genome."""
