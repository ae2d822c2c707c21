"""The program space: genomes, their mutations (one numba kernel shared by Python and the
chunk loop), initial programs, and the ``SearchSpace`` wrapper registered as ``program``."""
