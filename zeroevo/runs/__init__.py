"""Run directories: what a search leaves on disk, and starting or resuming one.

- :mod:`~zeroevo.runs.rundir`: a run directory's files and their checks;
- :mod:`~zeroevo.runs.storage`: atomic writes and array bundles (no pickle on disk);
- :mod:`~zeroevo.runs.birthlog`: the append-only Arrow birth log in segments;
- :mod:`~zeroevo.runs.recorder`: a search's sink: log batches, snapshots, best genomes;
- :mod:`~zeroevo.runs.configs`, :mod:`~zeroevo.runs.presets`: configs of every kind, named ones;
- :mod:`~zeroevo.runs.lifecycle`: ``start_run`` and ``resume_run``.
"""
from zeroevo.runs.lifecycle import load_config, resume_run, start_run

__all__ = ["load_config", "resume_run", "start_run"]
