"""The engine every genome kind shares, and the small protocols at its extension points.

- :mod:`~zeroevo.core.protocols`: ``SearchSpace``, ``Evaluator`` and the plain records that
  cross process boundaries (``EvalRequest``, ``EvalResult``, birth statuses);
- :mod:`~zeroevo.core.registry`: names -> factories, so workers rebuild live objects;
- :mod:`~zeroevo.core.engine`: the ``propose / commit`` loop of regularized evolution;
- :mod:`~zeroevo.core.rng`: the counter-based random streams keyed by (seed, island, birth);
- :mod:`~zeroevo.core.births`: birth records, the columns of every birth log;
- :mod:`~zeroevo.core.config`: documented, validated config sections and TOML;
- :mod:`~zeroevo.core.errors`: the user-facing errors (one line each).

Only the light names are re-exported here; the engine and the streams import numba.
"""
from zeroevo.core.births import BirthBatch, BirthSink, ListSink
from zeroevo.core.errors import (
           ConfigError,
           DataError,
           GenomeError,
           RunDirError,
           ZeroevoError,
)
from zeroevo.core.protocols import EvalRequest, EvalResult, Evaluator, SearchSpace
from zeroevo.core.registry import (
           make_evaluator,
           make_space,
           register_evaluator,
           register_space,
)

__all__ = ["BirthBatch", "BirthSink", "ConfigError", "DataError", "EvalRequest", "EvalResult", "Evaluator",
           "GenomeError", "ListSink", "RunDirError", "SearchSpace", "ZeroevoError", "make_evaluator",
           "make_space", "register_evaluator", "register_space"]
