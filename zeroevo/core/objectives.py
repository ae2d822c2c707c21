"""Accuracy against cost: what a tournament compares, and Pareto fronts.

A birth has a *fitness* (accuracy: higher is better) and a *cost* (parameters, FLOPs,
latency, program size: lower is better). The ``[objectives]`` section of a config chooses
how a tournament ranks its draws:

- ``accuracy``: by fitness alone (the default; the cost is only recorded);
- ``limit``: by fitness, with a cost over ``limit`` ranked below every candidate within it
  (a neural candidate over a known limit is not even trained);
- ``soft``: by MnasNet's reward ``fitness * (cost / target) ** weight`` (``weight`` < 0);
- ``pareto``: the draws are sorted into non-dominated fronts among themselves (more
  accurate and cheaper dominates) and the winner is the member of the first front with the
  largest crowding distance, as NSGA-II compares, inside the tournament (so aging selection
  and its cost stay as they are).

Ties go to the earliest draw, as the plain tournament's do. The same rules run in the
numba chunk kernel for programs (:func:`select_code`, the arrays of :data:`MODES`) and in
Python for neural searches (:func:`tournament_winner`).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from numba import njit

MODES = ("accuracy", "limit", "soft", "pareto")
ACCURACY, LIMIT, SOFT, PARETO = range(4)


@njit(cache=True)
def objective_value(fit: float, cost: float, mode: int, limit: float, target: float, weight: float) -> float:
    """The scalar a ``accuracy`` / ``limit`` / ``soft`` tournament compares."""
    if mode == LIMIT:
        return fit if cost <= limit else fit - 2.0  # below every candidate within the limit
    if mode == SOFT:
        return fit * (max(cost, 1e-12) / target) ** weight
    return fit


@njit(cache=True)
def pareto_pick(fit: np.ndarray, cost: np.ndarray, members: np.ndarray) -> int:
    """The winner among ``members`` (indices into ``fit``/``cost``, in draw order): first
    non-dominated front, then largest crowding distance, then earliest draw."""
    n = members.shape[0]
    front = np.zeros(n, np.bool_)
    for a in range(n):
        dominated = False
        fa, ca = fit[members[a]], cost[members[a]]
        for b in range(n):
            fb, cb = fit[members[b]], cost[members[b]]
            if fb >= fa and cb <= ca and (fb > fa or cb < ca):
                dominated = True
                break
        front[a] = not dominated
    # Crowding distance along the first front, both objectives normalised by their range.
    best, best_d = -1, -1.0
    fmin, fmax, cmin, cmax = np.inf, -np.inf, np.inf, -np.inf
    for a in range(n):
        if front[a]:
            f, c = fit[members[a]], cost[members[a]]
            fmin, fmax, cmin, cmax = min(fmin, f), max(fmax, f), min(cmin, c), max(cmax, c)
    for a in range(n):
        if not front[a]:
            continue
        f, c = fit[members[a]], cost[members[a]]
        lo_f, hi_f, lo_c, hi_c = -np.inf, np.inf, -np.inf, np.inf  # nearest front neighbours
        for b in range(n):
            if b == a or not front[b]:
                continue
            fb, cb = fit[members[b]], cost[members[b]]
            if fb < f:
                lo_f = max(lo_f, fb)
            elif fb > f:
                hi_f = min(hi_f, fb)
            if cb < c:
                lo_c = max(lo_c, cb)
            elif cb > c:
                hi_c = min(hi_c, cb)
        if math.isinf(lo_f) or math.isinf(hi_f) or math.isinf(lo_c) or math.isinf(hi_c):
            d = np.inf  # an end of the front: kept, as NSGA-II keeps boundary points
        else:
            d = (hi_f - lo_f) / max(fmax - fmin, 1e-300) + (hi_c - lo_c) / max(cmax - cmin, 1e-300)
        if d > best_d:
            best, best_d = a, d
    return members[best]


def tournament_winner(fit: np.ndarray, cost: np.ndarray, members: Sequence[int], mode: int, limit: float,
                      target: float, weight: float) -> int:
    """The slot a tournament over ``members`` (draw order) selects under ``mode``."""
    if mode == PARETO:
        return int(pareto_pick(np.asarray(fit, float), np.asarray(cost, float), np.asarray(members, np.int64)))
    best, best_v = -1, -np.inf
    for k in members:
        v = objective_value(float(fit[k]), float(cost[k]), mode, limit, target, weight)
        if best == -1 or v > best_v:
            best, best_v = int(k), v
    return best


def pareto_front(fit: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated points (maximal fitness, minimal cost), cheapest first;
    of equal points the first is kept."""
    fit, cost = np.asarray(fit, float), np.asarray(cost, float)
    order = np.lexsort((-fit, cost))  # by cost, then by fitness descending
    front, best = [], -np.inf
    for i in order:
        if fit[i] > best:
            front.append(int(i))
            best = fit[i]
    return np.array(front, dtype=np.int64)


def hypervolume(fit: np.ndarray, cost: np.ndarray, ref_cost: float, ref_fit: float = 0.0) -> float:
    """The area dominated by the points and bounded by the reference point ``(ref_cost,
    ref_fit)`` (2 objectives: fitness up, cost down); points beyond it count for nothing."""
    fit, cost = np.asarray(fit, float), np.asarray(cost, float)
    keep = (cost < ref_cost) & (fit > ref_fit)
    if not keep.any():
        return 0.0
    idx = pareto_front(fit[keep], cost[keep])
    f, c = fit[keep][idx], cost[keep][idx]
    area, prev_f = 0.0, ref_fit
    for k in range(len(idx)):  # cheapest first: each point adds the strip up to its fitness
        area += (ref_cost - c[k]) * (f[k] - prev_f)
        prev_f = f[k]
    return float(area)


def front_gain(fit: np.ndarray, cost: np.ndarray, front_fit: np.ndarray, front_cost: np.ndarray) -> np.ndarray:
    """How much each point (``fit``, ``cost``) would add to the front of (``front_fit``,
    ``front_cost``): its hypervolume gain when it is not dominated (> 0), else minus the
    fitness it lacks to reach the front at its cost (<= 0). Ranks candidates for a Pareto
    search: any point that extends the front beats every point that does not, and of the
    latter the nearest wins. The reference point lies one cost unit past every cost (pass
    log costs) and at fitness 0."""
    fit, cost = np.asarray(fit, float), np.asarray(cost, float)
    front_fit, front_cost = np.asarray(front_fit, float), np.asarray(front_cost, float)
    ref = float(max(cost.max(initial=0.0), front_cost.max(initial=0.0))) + 1.0
    base = hypervolume(front_fit, front_cost, ref)
    out = np.empty(len(fit))
    for k in range(len(fit)):
        gain = hypervolume(np.append(front_fit, fit[k]), np.append(front_cost, cost[k]), ref) - base
        cheaper = front_fit[front_cost <= cost[k]]
        out[k] = gain if gain > 0 else min(0.0, fit[k] - cheaper.max(initial=0.0))
    return out
