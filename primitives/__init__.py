"""Building blocks, with no knowledge of search: program kernels and torch modules.

- :mod:`~zeroevo.primitives.program`: the 65 ops, bytecode, the numba interpreter and
  executors, and the slow numpy reference with identical semantics;
- :mod:`~zeroevo.primitives.neural`: torch layers, NASNet cells and hierarchical motifs, in self-contained
  modules that exported networks embed verbatim.
"""
