"""Genome kinds, one subpackage each, all through the ``SearchSpace`` protocol.

- :mod:`~zeroevo.spaces.program`: AutoML-Zero programs (setup / predict / learn);
- :mod:`~zeroevo.spaces.layers`: layer sequences with skip inputs;
- :mod:`~zeroevo.spaces.nasnet`: NASNet normal and reduction cells, AmoebaNet mutations;
- :mod:`~zeroevo.spaces.hierarchical`: motifs of motifs (Liu et al. 2017), one edge mutated at a time.

Each registers itself by name in :mod:`zeroevo.core.registry` when imported.
"""
