"""Counter-based random numbers shared by the numba kernels and Python.

Every random decision of birth ``t`` on island ``i`` of a run comes from a stream keyed by
``(root_seed, island, t)``. A stream is a splitmix64 sequence: its state is a single uint64
held in a one-element array, so numba kernels and Python code (which calls these same jitted
functions) draw identical numbers. A FEC hit or an extra draw in one birth therefore never
shifts another birth, and resuming a run needs only the birth counter.

All constants are ``np.uint64``: in numba, mixing uint64 with int64 silently yields float64.
"""
from __future__ import annotations

import numpy as np
from numba import njit

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53

# Purposes separate independent streams derived from one root seed.
# (numpy scalars, not Python ints: a literal argument would make numba compile a callee
# once per value.)
PURPOSE_BIRTH = np.int64(1)
PURPOSE_TASK_DATA = np.int64(2)
PURPOSE_TASK_PARAM = np.int64(3)
PURPOSE_RESTART = np.int64(4)
PURPOSE_TRAIN = np.int64(5)


@njit(cache=True)
def mix64(z: np.uint64) -> np.uint64:
    """The splitmix64 finalizer: a bijective avalanche of 64 bits."""
    z = np.uint64(z)
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def derive(key: np.uint64, value: np.int64) -> np.uint64:
    """A new key from ``key`` and one more integer component (order matters)."""
    return mix64(np.uint64(key) ^ mix64(np.uint64(value) + GAMMA))


@njit(cache=True)
def birth_key(root_seed: np.int64, island: np.int64, birth: np.int64) -> np.uint64:
    """The key of birth ``birth`` on island ``island`` of a run with root seed ``root_seed``."""
    return derive(derive(derive(np.uint64(root_seed), PURPOSE_BIRTH), island), birth)


@njit(cache=True)
def seed_state(state: np.ndarray, key: np.uint64) -> None:
    """Start the stream held in ``state`` (a uint64 array of length >= 1) at ``key``."""
    state[0] = mix64(np.uint64(key))


@njit(cache=True)
def next_u64(state: np.ndarray) -> np.uint64:
    """The next 64 random bits of the stream in ``state``."""
    state[0] = state[0] + GAMMA
    return mix64(state[0])


@njit(cache=True)
def uniform(state: np.ndarray) -> float:
    """A double uniform in [0, 1) with 53 random bits."""
    return float(next_u64(state) >> _S11) * _INV53


@njit(cache=True)
def uniform_range(state: np.ndarray, low: float, high: float) -> float:
    """A double uniform in [low, high)."""
    return low + (high - low) * uniform(state)


@njit(cache=True)
def integer(state: np.ndarray, n: np.int64) -> np.int64:
    """An integer uniform in [0, n); ``n`` must be positive."""
    k = np.int64(uniform(state) * n)
    return k if k < n else n - 1


@njit(cache=True)
def gaussian(state: np.ndarray) -> float:
    """A standard normal draw (Box-Muller; one draw per call, no cached spare)."""
    u1 = uniform(state)
    u2 = uniform(state)
    return np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)


SEED_MAX = 2**64 - 1


def seed64(seed: int) -> int:
    """Root seed ``seed`` (0..2**64-1) as the int64 with the same 64 bits: what the kernels
    take (``birth_key`` reads it back as uint64), so any valid seed compiles one signature."""
    seed = int(seed)
    if not 0 <= seed <= SEED_MAX:
        raise ValueError(f"seed {seed} is out of range 0..{SEED_MAX}")
    return seed - 2**64 if seed >= 2**63 else seed


def new_state(key: int | np.uint64) -> np.ndarray:
    """A fresh stream state started at ``key`` (Python convenience)."""
    state = np.zeros(1, dtype=np.uint64)
    seed_state(state, np.uint64(key))
    return state


def key_of(root_seed: int, *components: int) -> np.uint64:
    """The key derived from a root seed and integer components, e.g. (purpose, index)."""
    key = np.uint64(int(root_seed) & 0xFFFFFFFFFFFFFFFF)
    for c in components:
        # numba returns uint64 results as Python ints; re-wrap so the next call types it uint64.
        key = np.uint64(derive(key, np.int64(c)))
    return key


def stream(root_seed: int, *components: int) -> np.ndarray:
    """A stream keyed by the root seed and integer components, e.g. (purpose, index)."""
    return new_state(key_of(root_seed, *components))


def numpy_generator(root_seed: int, *components: int) -> np.random.Generator:
    """A numpy Generator keyed like :func:`stream`, for bulk data generation."""
    state = stream(root_seed, *components)
    return np.random.Generator(np.random.PCG64(int(next_u64(state))))


def train_seed(root_seed: int, birth: int) -> int:
    """The (non-negative, 63-bit) training seed of a birth, e.g. for torch generators."""
    return int(key_of(root_seed, PURPOSE_TRAIN, birth)) >> 1
