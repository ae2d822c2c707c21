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

from zeroevo.rng import derive

# meta fields
_SIZE, _HEAD, _TAIL, _FREE, _CAP, _MASK, _FORGET = range(7)
_NIL = -1


@dataclass(frozen=True, eq=False)
class FecArrays:
    """The cache state: table keys/slots, entry keys/fitness/counts/links, and ``meta``."""

    table_key: np.ndarray
    table_entry: np.ndarray
    key: np.ndarray
    fitness: np.ndarray
    count: np.ndarray
    prev: np.ndarray
    next: np.ndarray
    meta: np.ndarray

    @staticmethod
    def create(capacity: int, forget_every: int) -> "FecArrays":
        """An empty cache of ``capacity`` entries (at least 1)."""
        capacity = max(1, int(capacity))
        slots = 1 << int(np.ceil(np.log2(2 * capacity + 1)))
        nxt = np.arange(1, capacity + 1, dtype=np.int64)
        nxt[-1] = _NIL
        meta = np.array([0, _NIL, _NIL, 0, capacity, slots - 1, forget_every], dtype=np.int64)
        return FecArrays(np.zeros(slots, np.uint64), np.full(slots, _NIL, np.int64),
                         np.zeros(capacity, np.uint64), np.zeros(capacity), np.zeros(capacity, np.int64),
                         np.full(capacity, _NIL, np.int64), nxt, meta)

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        """The arrays in kernel argument order."""
        return (self.table_key, self.table_entry, self.key, self.fitness, self.count,
                self.prev, self.next, self.meta)

    def __len__(self) -> int:
        return int(self.meta[_SIZE])


@njit(cache=True)
def _find_slot(table_key: np.ndarray, table_entry: np.ndarray, mask: int, h: np.uint64) -> int:
    i = np.int64(h & np.uint64(mask))
    while table_entry[i] != _NIL:
        if table_key[i] == h:
            return i
        i = (i + 1) & mask
    return -1 - i  # not found: encodes the empty slot where h would go


@njit(cache=True)
def _unlink(e: int, prev: np.ndarray, nxt: np.ndarray, meta: np.ndarray) -> None:
    p, n = prev[e], nxt[e]
    if p != _NIL:
        nxt[p] = n
    else:
        meta[_HEAD] = n
    if n != _NIL:
        prev[n] = p
    else:
        meta[_TAIL] = p


@njit(cache=True)
def _push_front(e: int, prev: np.ndarray, nxt: np.ndarray, meta: np.ndarray) -> None:
    prev[e] = _NIL
    nxt[e] = meta[_HEAD]
    if meta[_HEAD] != _NIL:
        prev[meta[_HEAD]] = e
    meta[_HEAD] = e
    if meta[_TAIL] == _NIL:
        meta[_TAIL] = e


@njit(cache=True)
def _erase_slot(i: int, table_key: np.ndarray, table_entry: np.ndarray, key: np.ndarray,
                prev: np.ndarray, nxt: np.ndarray, meta: np.ndarray) -> None:
    mask = meta[_MASK]
    e = table_entry[i]
    _unlink(e, prev, nxt, meta)
    nxt[e] = meta[_FREE]
    meta[_FREE] = e
    meta[_SIZE] -= 1
    # Backward-shift deletion keeps every probe chain unbroken without tombstones.
    j = i
    while True:
        table_entry[i] = _NIL
        while True:
            j = (j + 1) & mask
            if table_entry[j] == _NIL:
                return
            home = np.int64(table_key[j] & np.uint64(mask))
            # Move j back to i unless its home lies cyclically in (i, j].
            if (i <= j and (home <= i or home > j)) or (i > j and (home <= i and home > j)):
                break
        table_key[i] = table_key[j]
        table_entry[i] = table_entry[j]
        i = j


@njit(cache=True)
def lookup(table_key: np.ndarray, table_entry: np.ndarray, key: np.ndarray, fitness: np.ndarray,
           count: np.ndarray, prev: np.ndarray, nxt: np.ndarray, meta: np.ndarray,
           h: np.uint64) -> float:
    """The cached fitness for key ``h`` (counting a hit), or -1.0 when absent."""
    i = _find_slot(table_key, table_entry, meta[_MASK], h)
    if i < 0:
        return -1.0
    e = table_entry[i]
    f = fitness[e]
    _unlink(e, prev, nxt, meta)
    _push_front(e, prev, nxt, meta)
    count[e] += 1
    if meta[_FORGET] != 0 and count[e] >= meta[_FORGET]:
        _erase_slot(i, table_key, table_entry, key, prev, nxt, meta)
    return f


@njit(cache=True)
def insert(table_key: np.ndarray, table_entry: np.ndarray, key: np.ndarray, fitness: np.ndarray,
           count: np.ndarray, prev: np.ndarray, nxt: np.ndarray, meta: np.ndarray,
           h: np.uint64, f: float) -> None:
    """Insert key ``h`` (absent) with fitness ``f`` at the front, evicting the LRU entry if full."""
    if meta[_SIZE] >= meta[_CAP]:
        tail = meta[_TAIL]
        _erase_slot(_find_slot(table_key, table_entry, meta[_MASK], key[tail]),
                    table_key, table_entry, key, prev, nxt, meta)
    e = meta[_FREE]
    meta[_FREE] = nxt[e]
    key[e] = h
    fitness[e] = f
    count[e] = 1
    _push_front(e, prev, nxt, meta)
    meta[_SIZE] += 1
    i = -1 - _find_slot(table_key, table_entry, meta[_MASK], h)
    table_key[i] = h
    table_entry[i] = e


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
def _export(key: np.ndarray, fitness: np.ndarray, count: np.ndarray, prev: np.ndarray,
            meta: np.ndarray, out_key: np.ndarray, out_fit: np.ndarray, out_count: np.ndarray) -> None:
    e = meta[_TAIL]
    i = 0
    while e != _NIL:
        out_key[i] = key[e]
        out_fit[i] = fitness[e]
        out_count[i] = count[e]
        i += 1
        e = prev[e]


def export_entries(cache: FecArrays) -> dict[str, np.ndarray]:
    """The cache's entries, least recently used first: layout-free state for snapshots."""
    n = len(cache)
    out = {"fec_key": np.zeros(n, np.uint64), "fec_fitness": np.zeros(n), "fec_count": np.zeros(n, np.int64)}
    _export(cache.key, cache.fitness, cache.count, cache.prev, cache.meta,
            out["fec_key"], out["fec_fitness"], out["fec_count"])
    return out


def import_entries(cache: FecArrays, entries: dict[str, np.ndarray]) -> None:
    """Refill an empty cache from :func:`export_entries` output (same order, same counts)."""
    t = cache.as_tuple()
    for h, f in zip(entries["fec_key"], entries["fec_fitness"]):
        insert(*t, np.uint64(h), float(f))
    _set_counts(cache.key, cache.count, cache.prev, cache.meta, entries["fec_count"])


@njit(cache=True)
def _set_counts(key: np.ndarray, count: np.ndarray, prev: np.ndarray, meta: np.ndarray,
                counts: np.ndarray) -> None:
    e = meta[_TAIL]
    i = 0
    while e != _NIL:
        count[e] = counts[i]
        i += 1
        e = prev[e]


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
