"""Everything only program genomes need: AutoML-Zero's search protocol at microsecond speed.

- :mod:`~zeroevo.programs.config`: the program run's config (memory, ops, evolution, fitness, tasks);
- :mod:`~zeroevo.programs.tasks`: task generators and ``from_arrays`` for a user's own data;
- :mod:`~zeroevo.programs.evaluation`: fitness over a task set (FEC probe, lookups, full runs);
- :mod:`~zeroevo.programs.fec`: the functional equivalence cache (an exact LRU in arrays);
- :mod:`~zeroevo.programs.memo`: a child compiled to its parent's code replays its results;
- :mod:`~zeroevo.programs.chunk`: the numba kernel running thousands of births per call;
- :mod:`~zeroevo.programs.runners`: chunk kernel or Python reference loop, one restart at a time;
- :mod:`~zeroevo.programs.search`: search -> select -> restart -> final;
- :mod:`~zeroevo.programs.islands`: populations that evolve apart and migrate, on any dispatcher;
- :mod:`~zeroevo.programs.reference_executor`, :mod:`~zeroevo.programs.trace`,
  :mod:`~zeroevo.programs.export`, :mod:`~zeroevo.programs.dead_code`: the slow, obvious
  executor, prediction traces, standalone export and dead-code removal, all verified.
"""
from zeroevo.programs.config import Config
from zeroevo.programs.tasks import TaskSet, TaskSpec, from_arrays, generate

__all__ = ["Config", "TaskSet", "TaskSpec", "from_arrays", "generate"]
