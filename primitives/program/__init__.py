"""Program primitives: ops, memory layout, bytecode, numba kernels and the numpy reference."""
