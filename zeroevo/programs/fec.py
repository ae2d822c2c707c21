"""The functional equivalence cache (FEC): an exact LRU of task fitness keyed by probe errors.

The cache lives in plain numpy arrays so the numba chunk loop can use it and a snapshot can
store it: an open-addressing hash table (linear probing, backward-shift deletion) maps a
64-bit key to an entry slot; entries form a doubly linked list, most recent at the head.
Semantics follow the reference: a lookup moves the entry to the front and counts a hit; an
entry hit ``forget_every`` times is erased (and so re-measured next time); inserting past
capacity drops the least recently used entry.

:class:`OrderedLRU` is the obvious ``OrderedDict`` model of the same cache, used by the
Python reference loop; tests drive both with the same operations.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from numba import njit

from zeroevo.core.rng import derive

# meta fields
_SIZE, _HEAD, _TAIL, _FREE, _CAP, _MASK, _FORGET = range(7)
# entry record columns (fitness sits in column 0 of the float view)
_FIT, _COUNT, _PREV, _NEXT = range(4)
_NIL = -1


@dataclass(frozen=True, eq=False)
class FecArrays:
    """The cache state: ``table`` rows (key bits, entry; entry -1 = empty), entry records
    ``rec`` (fitness bits, hit count, prev, next), each entry's ``key``, and ``meta``.

    A hit touches one table row and one record (plus its list neighbours): rows and records
    are 16 and 32 bytes in one array each, because at 100,000 entries every separate array
    a lookup reads is one more cache miss (~40 ns each).
    """

    table: np.ndarray
    rec: np.ndarray
    key: np.ndarray
    meta: np.ndarray

    @staticmethod
    def create(capacity: int, forget_every: int) -> "FecArrays":
        """An empty cache of ``capacity`` entries (at least 1)."""
        capacity = max(1, int(capacity))
        slots = 1 << int(np.ceil(np.log2(2 * capacity + 1)))
        table = np.zeros((slots, 2), np.int64)
        table[:, 1] = _NIL
        rec = np.zeros((capacity, 4), np.int64)
        rec[:, _PREV] = _NIL
        rec[:, _NEXT] = np.arange(1, capacity + 1)
        rec[-1, _NEXT] = _NIL
        meta = np.array([0, _NIL, _NIL, 0, capacity, slots - 1, forget_every], dtype=np.int64)
        return FecArrays(table, rec, np.zeros(capacity, np.uint64), meta)

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        """The arrays in kernel argument order (``rec`` also as floats, for the fitness)."""
        return (self.table, self.rec, self.rec.view(np.float64), self.key, self.meta)

    # Column views, for tests and export.
    @property
    def table_key(self) -> np.ndarray:
        """Each table slot's key."""
        return self.table[:, 0].view(np.uint64)

    @property
    def table_entry(self) -> np.ndarray:
        """Each table slot's entry (-1: empty)."""
        return self.table[:, 1]

    @property
    def fitness(self) -> np.ndarray:
        """Each entry's cached fitness."""
        return self.rec.view(np.float64)[:, _FIT]

    @property
    def count(self) -> np.ndarray:
        """Each entry's hit count (1 at insertion)."""
        return self.rec[:, _COUNT]

    @property
    def prev(self) -> np.ndarray:
        """Each entry's more recent neighbour (-1: none)."""
        return self.rec[:, _PREV]

    @property
    def next(self) -> np.ndarray:
        """Each entry's less recent neighbour, or the next free entry (-1: none)."""
        return self.rec[:, _NEXT]

    def __len__(self) -> int:
        return int(self.meta[_SIZE])


@njit(cache=True)
def _find_slot(table: np.ndarray, mask: int, hk: int) -> int:
    # hk: the key's bits as int64; its low bits are its home slot.
    i = hk & mask
    while table[i, 1] != _NIL:
        if table[i, 0] == hk:
            return i
        i = (i + 1) & mask
    return -1 - i  # not found: encodes the empty slot where the key would go


@njit(cache=True)
def _unlink(e: int, rec: np.ndarray, meta: np.ndarray) -> None:
    p, n = rec[e, _PREV], rec[e, _NEXT]
    if p != _NIL:
        rec[p, _NEXT] = n
    else:
        meta[_HEAD] = n
    if n != _NIL:
        rec[n, _PREV] = p
    else:
        meta[_TAIL] = p


@njit(cache=True)
def _push_front(e: int, rec: np.ndarray, meta: np.ndarray) -> None:
    rec[e, _PREV] = _NIL
    rec[e, _NEXT] = meta[_HEAD]
    if meta[_HEAD] != _NIL:
        rec[meta[_HEAD], _PREV] = e
    meta[_HEAD] = e
    if meta[_TAIL] == _NIL:
        meta[_TAIL] = e


@njit(cache=True)
def _erase_slot(i: int, table: np.ndarray, rec: np.ndarray, meta: np.ndarray) -> None:
    mask = meta[_MASK]
    e = table[i, 1]
    _unlink(e, rec, meta)
    rec[e, _NEXT] = meta[_FREE]
    meta[_FREE] = e
    meta[_SIZE] -= 1
    # Backward-shift deletion keeps every probe chain unbroken without tombstones.
    j = i
    while True:
        table[i, 1] = _NIL
        while True:
            j = (j + 1) & mask
            if table[j, 1] == _NIL:
                return
            home = table[j, 0] & mask
            # Move j back to i unless its home lies cyclically in (i, j].
            if (i <= j and (home <= i or home > j)) or (i > j and (home <= i and home > j)):
                break
        table[i, 0] = table[j, 0]
        table[i, 1] = table[j, 1]
        i = j


@njit(cache=True)
def lookup(table: np.ndarray, rec: np.ndarray, rec_f: np.ndarray, key: np.ndarray,
           meta: np.ndarray, h: np.uint64) -> float:
    """The cached fitness for key ``h`` (counting a hit), or -1.0 when absent."""
    i = _find_slot(table, meta[_MASK], np.int64(h))
    if i < 0:
        return -1.0
    e = table[i, 1]
    f = rec_f[e, _FIT]
    _unlink(e, rec, meta)
    _push_front(e, rec, meta)
    rec[e, _COUNT] += 1
    if meta[_FORGET] != 0 and rec[e, _COUNT] >= meta[_FORGET]:
        _erase_slot(i, table, rec, meta)
    return f


@njit(cache=True)
def insert(table: np.ndarray, rec: np.ndarray, rec_f: np.ndarray, key: np.ndarray,
           meta: np.ndarray, h: np.uint64, f: float) -> None:
    """Insert key ``h`` (absent) with fitness ``f`` at the front, evicting the LRU entry if full."""
    mask = meta[_MASK]
    if meta[_SIZE] >= meta[_CAP]:
        _erase_slot(_find_slot(table, mask, np.int64(key[meta[_TAIL]])), table, rec, meta)
    e = meta[_FREE]
    meta[_FREE] = rec[e, _NEXT]
    key[e] = h
    rec_f[e, _FIT] = f
    rec[e, _COUNT] = 1
    _push_front(e, rec, meta)
    meta[_SIZE] += 1
    hk = np.int64(h)
    i = -1 - _find_slot(table, mask, hk)
    table[i, 0] = hk
    table[i, 1] = e


@njit(cache=True)
def probe_hash(train_err: np.ndarray, n_train: int, valid_err: np.ndarray, n_valid: int,
               task_index: int, train_examples: int) -> np.uint64:
    """The FEC key: the exact probe errors (bit patterns), the task index and training length."""
    h = np.uint64(42)
    tb = train_err.view(np.uint64)
    vb = valid_err.view(np.uint64)
    for i in range(n_train):
        h = derive(h, np.int64(tb[i]))
    h = derive(h, n_train)
    for i in range(n_valid):
        h = derive(h, np.int64(vb[i]))
    h = derive(h, n_valid)
    h = derive(h, task_index)
    return derive(h, train_examples)


class OrderedLRU:
    """The same cache as an ``OrderedDict`` (most recent last): the obvious reference model."""

    def __init__(self, capacity: int, forget_every: int) -> None:
        self.capacity = max(1, int(capacity))
        self.forget_every = forget_every
        self.entries: OrderedDict[int, list] = OrderedDict()

    def lookup(self, h: int) -> float:
        """Cached fitness or -1.0; counts a hit and forgets the entry at ``forget_every``."""
        if h not in self.entries:
            return -1.0
        self.entries.move_to_end(h)
        entry = self.entries[h]
        entry[1] += 1
        if self.forget_every and entry[1] >= self.forget_every:
            del self.entries[h]
        return entry[0]

    def insert(self, h: int, fitness: float) -> None:
        """Insert at the most-recent end, evicting the least recent past capacity."""
        if len(self.entries) >= self.capacity:
            self.entries.popitem(last=False)
        self.entries[h] = [fitness, 1]


@njit(cache=True)
def _export(rec: np.ndarray, rec_f: np.ndarray, key: np.ndarray, meta: np.ndarray,
            out_key: np.ndarray, out_fit: np.ndarray, out_count: np.ndarray) -> None:
    e = meta[_TAIL]
    i = 0
    while e != _NIL:
        out_key[i] = key[e]
        out_fit[i] = rec_f[e, _FIT]
        out_count[i] = rec[e, _COUNT]
        i += 1
        e = rec[e, _PREV]


def export_entries(cache: FecArrays) -> dict[str, np.ndarray]:
    """The cache's entries, least recently used first: layout-free state for snapshots."""
    n = len(cache)
    out = {"fec_key": np.zeros(n, np.uint64), "fec_fitness": np.zeros(n), "fec_count": np.zeros(n, np.int64)}
    _, rec, rec_f, key, meta = cache.as_tuple()
    _export(rec, rec_f, key, meta, out["fec_key"], out["fec_fitness"], out["fec_count"])
    return out


def import_entries(cache: FecArrays, entries: dict[str, np.ndarray]) -> None:
    """Refill an empty cache from :func:`export_entries` output (same order, same counts)."""
    t = cache.as_tuple()
    for h, f in zip(entries["fec_key"], entries["fec_fitness"]):
        insert(*t, np.uint64(h), float(f))
    _set_counts(cache.rec, cache.meta, entries["fec_count"])


@njit(cache=True)
def _set_counts(rec: np.ndarray, meta: np.ndarray, counts: np.ndarray) -> None:
    e = meta[_TAIL]
    i = 0
    while e != _NIL:
        rec[e, _COUNT] = counts[i]
        i += 1
        e = rec[e, _PREV]


def lru_entries(cache: OrderedLRU) -> dict[str, np.ndarray]:
    """:func:`export_entries` for the ``OrderedDict`` model."""
    keys = list(cache.entries)
    return {"fec_key": np.array(keys, np.uint64),
            "fec_fitness": np.array([cache.entries[k][0] for k in keys], np.float64),
            "fec_count": np.array([cache.entries[k][1] for k in keys], np.int64)}


def lru_from_entries(cache: OrderedLRU, entries: dict[str, np.ndarray]) -> None:
    """Refill an empty ``OrderedLRU`` from exported entries."""
    for h, f, c in zip(entries["fec_key"], entries["fec_fitness"], entries["fec_count"]):
        cache.entries[int(h)] = [float(f), int(c)]
