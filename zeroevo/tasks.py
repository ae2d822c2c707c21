"""Public: tasks for program searches, and ``from_arrays`` for your own data
(:mod:`zeroevo.programs.tasks`)."""
from zeroevo.programs.tasks import TaskSet, TaskSpec, from_arrays, generate

__all__ = ["TaskSet", "TaskSpec", "from_arrays", "generate"]
