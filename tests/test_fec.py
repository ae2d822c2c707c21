"""The FEC's numba array LRU (zeroevo/fec.py) against the OrderedDict model, and probe_hash.

A small capacity and a small key space with many keys sharing a home slot make
evictions, ``forget_every`` erasures and backward-shift deletions happen all the time.
"""
from __future__ import annotations

import numpy as np
import pytest

from zeroevo.programs.fec import FecArrays, OrderedLRU, insert, lookup, probe_hash

_SIZE, _HEAD, _TAIL, _FREE, _CAP, _MASK, _FORGET = range(7)


def key_pool(rng: np.random.Generator, mask: int, n: int) -> list[np.uint64]:
    """Keys, most of them crowded on a few home slots (including the wrap-around end)."""
    homes = [0, 1, 2, mask - 1, mask, mask // 2]
    keys = set()
    while len(keys) < n:
        hi = int(rng.integers(1, 1 << 40))
        if rng.random() < 0.7:
            k = (hi * (mask + 1)) | int(rng.choice(homes))
        else:
            k = int(rng.integers(0, 1 << 62)) * 3
        keys.add(k & 0xFFFFFFFFFFFFFFFF)
    return [np.uint64(k) for k in sorted(keys)]


def lru_order(fc: FecArrays) -> list[int]:
    """Keys from most to least recent, walking the linked list (and checking it backwards)."""
    out = []
    e = fc.meta[_HEAD]
    prev = -1
    while e != -1:
        assert fc.prev[e] == prev
        out.append(int(fc.key[e]))
        prev, e = e, fc.next[e]
    assert fc.meta[_TAIL] == prev
    return out


def check_table(fc: FecArrays, model: OrderedLRU) -> None:
    assert len(fc) == len(model.entries)
    assert lru_order(fc) == [int(k) for k in reversed(model.entries)]
    used = np.flatnonzero(fc.table_entry != -1)
    assert len(used) == len(fc)
    mask = int(fc.meta[_MASK])
    for i in used:
        e = fc.table_entry[i]
        assert fc.table_key[i] == fc.key[e]
        assert fc.count[e] == model.entries[int(fc.key[e])][1]
        assert fc.fitness[e] == model.entries[int(fc.key[e])][0]
        # no empty slot between the key's home and where it sits (probe chains unbroken)
        j = int(fc.table_key[i]) & mask
        while j != i:
            assert fc.table_entry[j] != -1
            j = (j + 1) & mask


@pytest.mark.parametrize("capacity,forget_every,n_keys,n_ops", [
    (50, 5, 120, 200_000),
    (50, 0, 90, 40_000),
    (7, 2, 20, 20_000),
    (1, 3, 4, 5_000),
])
def test_array_lru_matches_ordered_dict(capacity: int, forget_every: int, n_keys: int, n_ops: int) -> None:
    rng = np.random.default_rng(capacity * 100 + forget_every)
    fc = FecArrays.create(capacity, forget_every)
    arrays = fc.as_tuple()
    model = OrderedLRU(capacity, forget_every)
    keys = key_pool(rng, int(fc.meta[_MASK]), n_keys)
    picks = rng.integers(0, n_keys, n_ops)
    fits = rng.random(n_ops)
    mask = int(fc.meta[_MASK])
    hits = evictions = forgets = crowded_deletions = 0
    for i in range(n_ops):
        h = keys[picks[i]]
        hk = int(h)
        before = model.entries.get(hk)
        will_forget = before is not None and forget_every and before[1] + 1 >= forget_every
        got = lookup(*arrays, h)
        want = model.lookup(hk)
        assert got == want, i
        if want >= 0.0:
            hits += 1
            forgets += bool(will_forget)
        else:
            full = len(model.entries) >= model.capacity
            if full:
                evictions += 1
                victim = next(iter(model.entries))
            insert(*arrays, h, fits[i])
            model.insert(hk, float(fits[i]))
            if full and sum((k & mask) == (victim & mask) for k in model.entries) > 0:
                crowded_deletions += 1
        assert len(fc) == len(model.entries), i
        if will_forget and sum((k & mask) == (hk & mask) for k in model.entries) > 0:
            crowded_deletions += 1
        if i % 997 == 0:
            check_table(fc, model)
    check_table(fc, model)
    assert hits > n_ops // 10
    if capacity < n_keys:
        assert evictions > n_ops // 50
    if forget_every:
        assert forgets > n_ops // 100
    if capacity > 1:
        assert crowded_deletions > n_ops // 100  # deletions that must shift a chain back


def test_create_sizes_the_table() -> None:
    for capacity in (1, 2, 50, 100, 100_000):
        fc = FecArrays.create(capacity, 100)
        slots = len(fc.table_key)
        assert slots & (slots - 1) == 0 and slots >= 2 * capacity + 1 and slots < 4 * capacity + 2
        assert len(fc.key) == capacity and len(fc) == 0 and fc.meta[_MASK] == slots - 1
        assert fc.meta[_HEAD] == -1 and fc.meta[_TAIL] == -1
    assert len(FecArrays.create(0, 100).key) == 1


def test_forget_every_erases_on_the_nth_hit() -> None:
    fc = FecArrays.create(10, 4)
    a = fc.as_tuple()
    h = np.uint64(12345)
    assert lookup(*a, h) == -1.0
    insert(*a, h, 0.75)  # count 1
    assert [lookup(*a, h) for _ in range(3)] == [0.75, 0.75, 0.75]  # counts 2, 3, 4 -> erased at 4
    assert len(fc) == 0 and lookup(*a, h) == -1.0


def _h(train, valid, n_train=None, n_valid=None, task=0, examples=100) -> int:
    t = np.asarray(train, dtype=np.float64)
    v = np.asarray(valid, dtype=np.float64)
    t = t if len(t) else np.zeros(1)
    v = v if len(v) else np.zeros(1)
    return int(probe_hash(t, len(train) if n_train is None else n_train, v,
                          len(valid) if n_valid is None else n_valid, task, examples))


def test_probe_hash_distinguishes_everything_it_keys_on() -> None:
    base = ([0.5, 1.25, 3.0], [0.1, 0.2])
    h0 = _h(*base)
    assert h0 == _h(*base)
    assert h0 != _h(*base, task=1)
    assert h0 != _h(*base, examples=1000)
    assert h0 != _h([0.5, 1.25], [3.0, 0.1, 0.2])  # same sequence, split differently
    assert h0 != _h([1.25, 0.5, 3.0], [0.1, 0.2])  # order matters
    assert h0 != _h([0.5, np.nextafter(1.25, 2.0), 3.0], [0.1, 0.2])  # one ulp
    assert h0 != _h([0.5, 1.25, 3.0], [0.1, 0.2, 0.0])  # one more (zero) error
    assert _h([0.0], []) != _h([-0.0], [])  # bit patterns, not values
    assert _h([], []) != _h([], [], task=1)
    # only the first n errors count
    assert _h([0.5, 1.25, 3.0, 9.0], [0.1, 0.2, 7.0], n_train=3, n_valid=2) == h0
    rng = np.random.default_rng(0)
    inputs = set()
    hashes = set()
    for _ in range(20_000):
        t = tuple(rng.random(int(rng.integers(0, 11))))
        v = tuple(rng.random(int(rng.integers(0, 11))))
        task, examples = int(rng.integers(10)), int(rng.integers(1, 3)) * 100
        inputs.add((t, v, task, examples))
        hashes.add(_h(list(t), list(v), task=task, examples=examples))
    assert len(hashes) == len(inputs) > 19_000  # no collisions
