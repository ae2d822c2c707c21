"""Tasks: the data a program learns from, generated per seed or given as arrays.

A :class:`TaskSpec` says what to generate (scalar linear regression, 2-layer ReLU teacher
regression, projected binary image classification) and a :class:`TaskSet` holds the
generated arrays in the layout the numba kernels read: ``x_train[T, N, F]``,
``y_train[T, N]``, per-epoch example orders ``order[T, E, N]`` (epoch 0 in stored order,
later epochs successive shuffles, as the reference does), ``x_valid[T, V, F]``,
``y_valid[T, V]``, ``classify[T]`` and the random-op stream keys ``exec_keys[T]``.
All tasks of one set share N, V, F and E.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from zeroevo.core.config import doc
from zeroevo.core.errors import ConfigError
from zeroevo.core.rng import (
    PURPOSE_TASK_DATA,
    PURPOSE_TASK_PARAM,
    key_of,
    mix64,
    numpy_generator,
)

TASK_KINDS = ("linear", "relu_teacher", "binary_projected")
PAIR_SETS = ("all", "search", "held_out")
# The class pairs AutoML-Zero's reference holds out of its binary search tasks (run_baseline.sh):
# search draws from the other 36 of the 45 pairs; selection and the final report use these 9.
HELD_OUT_PAIRS = ((0, 5), (0, 9), (1, 8), (2, 9), (3, 5), (3, 6), (3, 8), (4, 6), (8, 9))


@dataclass(frozen=True)
class TaskSpec:
    """What tasks to generate. Seeds default to consecutive values from a base per task."""

    kind: str = doc("linear, relu_teacher or binary_projected", "linear")
    num_tasks: int = doc("how many tasks", 10)
    features: int = doc("feature size F (must equal [program].features)", 4)
    num_train: int = doc("training examples per task (per epoch)", 100)
    num_valid: int = doc("validation examples per task", 100)
    epochs: int = doc("training epochs (epoch 0 in order, then shuffles)", 1)
    data_seeds: tuple[int, ...] = doc("data seeds (empty: drawn per restart; else each next task +1)", ())
    param_seeds: tuple[int, ...] = doc("parameter seeds (as data_seeds)", ())
    dataset: str = doc("binary_projected: fashion_mnist, mnist, cifar10 or digits", "fashion_mnist")
    dataset_path: str | None = doc("binary_projected: folder with mnist or cifar10 files", None)
    classes: tuple[int, int] | None = doc("binary_projected: [positive, negative] classes (absent: a seeded pair)",
                                          None)
    pairs: str = doc("binary_projected: draw each task's class pair from 'all' 45 pairs, the 36 'search' pairs "
                     "or the 9 'held_out' ones", "all")
    held_out_pairs: tuple[tuple[int, int], ...] = doc("binary_projected: the held-out [positive, negative] pairs",
                                                      HELD_OUT_PAIRS)
    valid_split: str = doc("binary_projected: validation images from the 'train' or the 'test' split", "train")
    redraw: bool = doc("without given seeds: fresh tasks at every restart (the reference), or false: restart "
                       "0's draw at every restart, so that restarts' fitnesses on them compare", True)

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise ConfigError(f"tasks.kind: unknown task kind {self.kind!r}; allowed: {', '.join(TASK_KINDS)}")
        for name in ("num_tasks", "features", "num_train", "num_valid", "epochs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"tasks.{name} = {getattr(self, name)} must be at least 1")
        if self.features > 256:
            raise ConfigError(f"tasks.features = {self.features} is out of range; allowed 1..256")
        if self.pairs not in PAIR_SETS:
            raise ConfigError(f"tasks.pairs = {self.pairs!r} is not allowed; expected one of {', '.join(PAIR_SETS)}")
        if self.valid_split not in ("train", "test"):
            raise ConfigError(f"tasks.valid_split = {self.valid_split!r} is not allowed; expected 'train' or 'test'")
        if not self.held_out_pairs or any(len(p) != 2 or p[0] == p[1] for p in self.held_out_pairs):
            raise ConfigError(f"tasks.held_out_pairs = {self.held_out_pairs!r} must be pairs of two different classes")

    def seeds(self) -> tuple[list[int], list[int]]:
        """Per-task (data, param) seeds: given ones, then each previous seed + 1."""
        def extend(given: tuple[int, ...], default: int) -> list[int]:
            out = list(given) or [default]
            while len(out) < self.num_tasks:
                out.append(out[-1] + 1)
            return out[: self.num_tasks]
        return extend(self.data_seeds, 11000), extend(self.param_seeds, 1000)

    def with_seeds(self, key: int) -> "TaskSpec":
        """A copy with fresh seeds drawn from ``key`` (the per-restart task randomization)."""
        data = tuple(int(key_of(key, PURPOSE_TASK_DATA, i)) >> 33 for i in range(self.num_tasks))
        param = tuple(int(key_of(key, PURPOSE_TASK_PARAM, i)) >> 33 for i in range(self.num_tasks))
        return TaskSpec(**{**self.__dict__, "data_seeds": data, "param_seeds": param})


@dataclass(frozen=True, eq=False)
class TaskSet:
    """Generated tasks in kernel layout (see the module docstring)."""

    x_train: np.ndarray
    y_train: np.ndarray
    order: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    classify: np.ndarray
    exec_keys: np.ndarray

    @property
    def num_tasks(self) -> int:
        """How many tasks the set holds."""
        return self.x_train.shape[0]

    @property
    def features(self) -> int:
        """Feature size F."""
        return self.x_train.shape[2]

    @property
    def train_steps(self) -> int:
        """Training steps of one full evaluation of one task (examples times epochs)."""
        return self.order.shape[1] * self.order.shape[2]


def _epoch_orders(n: int, epochs: int, rng: np.random.Generator) -> np.ndarray:
    order = np.empty((epochs, n), dtype=np.int64)
    idx = np.arange(n)
    for e in range(epochs):
        order[e] = idx
        rng.shuffle(idx)
    return order


def _linear(spec: TaskSpec, data_seed: int, param_seed: int) -> tuple[np.ndarray, ...]:
    data = numpy_generator(data_seed, 939723201)
    x = data.standard_normal((spec.num_train + spec.num_valid, spec.features))
    w = numpy_generator(param_seed, 997958712).standard_normal(spec.features)
    return x, x @ w


def _relu_teacher(spec: TaskSpec, data_seed: int, param_seed: int) -> tuple[np.ndarray, ...]:
    F = spec.features
    x = numpy_generator(data_seed, 865546086).standard_normal((spec.num_train + spec.num_valid, F))
    params = numpy_generator(param_seed, 174299604)
    w1 = params.standard_normal((F, F))
    w2 = params.standard_normal(F)
    # As in the reference: hidden units 0 and 2 are switched off (F - 2 effective units).
    for k in (0, 2):
        if k < F:
            w1[k] = 0.0
            w2[k] = 0.0
    return x, np.maximum(x @ w1.T, 0.0) @ w2


@functools.lru_cache(maxsize=4)
def _image_data(name: str, path: str | None):  # noqa: ANN202 - ImageData, imported lazily
    from zeroevo.data.images import load_image_dataset
    return load_image_dataset(name, path)


def class_pairs(spec: TaskSpec, n_classes: int) -> list[tuple[int, int]]:
    """The (positive, negative) pairs a binary task may draw: all, the search ones (all but
    the held-out ones) or the held-out ones."""
    held = [tuple(int(c) for c in p) for p in spec.held_out_pairs]
    if any(not (0 <= c < n_classes) for p in held for c in p):
        raise ConfigError(f"tasks.held_out_pairs = {spec.held_out_pairs!r} names a class outside 0..{n_classes - 1}")
    every = [(i, j) for i in range(n_classes) for j in range(i + 1, n_classes)]
    if spec.pairs == "held_out":
        return held
    if spec.pairs == "search":
        return [p for p in every if p not in held and p[::-1] not in held]
    return every


def task_pair(spec: TaskSpec, data_seed: int, n_classes: int,
              rng: np.random.Generator | None = None) -> tuple[int, int]:
    """The (positive, negative) classes of the binary task with ``data_seed`` (protocol tasks)."""
    rng = rng if rng is not None else numpy_generator(data_seed, 613211503)
    pairs = [tuple(spec.classes)] if spec.classes is not None else class_pairs(spec, n_classes)
    return pairs[int(rng.integers(len(pairs)))]


def _sampled_pair(spec: TaskSpec, data_seed: int, param_seed: int) -> tuple[np.ndarray, ...]:
    """A binary task of the paper's protocol: a pair from the allowed set, training images
    sampled from the train split, validation images from the chosen split (disjoint). The
    training examples do not depend on where the validation ones come from."""
    images = _image_data(spec.dataset, spec.dataset_path)
    pos, neg = task_pair(spec, data_seed, len(images.classes))
    pick_train, pick_valid = numpy_generator(data_seed, 613211504), numpy_generator(data_seed, 613211505)
    flat_train = images.x_train.reshape(len(images.x_train), -1)
    test = spec.valid_split == "test"
    flat_valid = images.x_test.reshape(len(images.x_test), -1) if test else flat_train
    parts: dict[str, list] = {"train": [], "valid": []}
    for cls, label in ((pos, 1.0), (neg, 0.0)):
        pool = pick_train.permutation(np.flatnonzero(images.y_train == cls))
        n_tr = (spec.num_train + (label > 0)) // 2  # positives get the odd one
        n_va = (spec.num_valid + (label > 0)) // 2
        train_idx = pool[:n_tr]
        valid_pool = np.flatnonzero(images.y_test == cls) if test else pool[n_tr:]
        valid_idx = pick_valid.permutation(valid_pool)[:n_va]
        if len(train_idx) < n_tr or len(valid_idx) < n_va:
            raise ConfigError(f"{spec.dataset} has too few images of class {cls} for {spec.num_train} training "
                              f"and {spec.num_valid} validation examples per task")
        parts["train"].append((flat_train[train_idx].astype(np.float64), np.full(n_tr, label)))
        parts["valid"].append((flat_valid[valid_idx].astype(np.float64), np.full(n_va, label)))
    proj = numpy_generator(param_seed, 4123).standard_normal((flat_train.shape[1], spec.features))
    out = []
    for name, shuffle in (("train", numpy_generator(data_seed, 613211506)),
                          ("valid", numpy_generator(data_seed, 613211507))):
        x = np.concatenate([p[0] for p in parts[name]]) @ proj
        y = np.concatenate([p[1] for p in parts[name]])
        order = shuffle.permutation(len(y))
        out.append((x[order], y[order]))
    (xt, yt), (xv, yv) = out
    mean, std = xt.mean(axis=0), xt.std(axis=0)  # standardised on the training examples
    std = np.where(std > 0, std, 1.0)
    return np.concatenate([(xt - mean) / std, (xv - mean) / std]), np.concatenate([yt, yv])


def _binary_projected(spec: TaskSpec, data_seed: int, param_seed: int) -> tuple[np.ndarray, ...]:
    if spec.pairs != "all" or spec.valid_split != "train":
        return _sampled_pair(spec, data_seed, param_seed)
    # The original protocol (kept as it was, so earlier runs replay): the first images of
    # a pair drawn from all 45, training and validation from the train split.
    images = _image_data(spec.dataset, spec.dataset_path)
    n_classes = len(images.classes)
    rng = numpy_generator(data_seed, 856572777)
    if spec.classes is not None:
        pos, neg = spec.classes
        if not (0 <= pos < n_classes and 0 <= neg < n_classes and pos != neg):
            raise ConfigError(f"tasks.classes = {spec.classes} must be two different classes in 0..{n_classes - 1}")
    else:
        pairs = [(i, j) for i in range(n_classes) for j in range(i + 1, n_classes)]
        pos, neg = pairs[int(rng.integers(len(pairs)))]
    half = (spec.num_train + spec.num_valid + 1) // 2
    flat = images.x_train.reshape(len(images.x_train), -1).astype(np.float64)
    xs, ys = [], []
    for cls, label in ((pos, 1.0), (neg, 0.0)):
        idx = np.flatnonzero(images.y_train == cls)[:half]
        if len(idx) < half:
            raise ConfigError(f"{spec.dataset} has {len(idx)} training images of class {cls}; "
                              f"tasks.num_train + num_valid needs {2 * half}")
        xs.append(flat[idx])
        ys.append(np.full(len(idx), label))
    x, y = np.concatenate(xs), np.concatenate(ys)
    perm = rng.permutation(len(x))  # a seeded stratification-free shuffle before the split
    x, y = x[perm], y[perm]
    proj = numpy_generator(param_seed, 4123).standard_normal((x.shape[1], spec.features))
    x = x @ proj
    n = spec.num_train
    mean, std = x[:n].mean(axis=0), x[:n].std(axis=0)
    x = (x - mean) / np.where(std > 0, std, 1.0)
    return x[: n + spec.num_valid], y[: n + spec.num_valid]


_GENERATORS = {"linear": _linear, "relu_teacher": _relu_teacher, "binary_projected": _binary_projected}


def generate(spec: TaskSpec) -> TaskSet:
    """Generate the tasks a spec describes."""
    data_seeds, param_seeds = spec.seeds()
    n, v = spec.num_train, spec.num_valid
    xs, ys, orders, keys = [], [], [], []
    for ds, ps in zip(data_seeds, param_seeds):
        x, y = _GENERATORS[spec.kind](spec, ds, ps)
        xs.append(x)
        ys.append(y)
        orders.append(_epoch_orders(n, spec.epochs, numpy_generator(ds, 3274582109)))
        keys.append(mix64(np.uint64(ds & 0xFFFFFFFFFFFFFFFF) ^ np.uint64(0x5EED)))
    x, y = np.stack(xs), np.stack(ys)
    return TaskSet(
        x_train=np.ascontiguousarray(x[:, :n]), y_train=np.ascontiguousarray(y[:, :n]),
        order=np.stack(orders), x_valid=np.ascontiguousarray(x[:, n:n + v]),
        y_valid=np.ascontiguousarray(y[:, n:n + v]),
        classify=np.full(len(xs), spec.kind == "binary_projected"),
        exec_keys=np.array(keys, dtype=np.uint64))


def from_arrays(x_train: np.ndarray, y_train: np.ndarray, x_valid: np.ndarray,
                y_valid: np.ndarray, classify: bool = False, epochs: int = 1,
                seed: int = 0) -> TaskSet:
    """A task set from a user's own arrays: ``x[N, F]`` / ``y[N]``, or stacked ``x[T, N, F]``.

    For classification, labels must be 0 or 1.
    """
    def as3(a: np.ndarray, name: str, dims: int) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        if a.ndim == dims - 1:
            a = a[None]
        if a.ndim != dims:
            raise ConfigError(f"{name} has shape {a.shape}; expected {'[T, ]N, F' if dims == 3 else '[T, ]N'}")
        if not np.all(np.isfinite(a)):
            raise ConfigError(f"{name} contains NaN or inf")
        return np.ascontiguousarray(a)

    xt, yt = as3(x_train, "x_train", 3), as3(y_train, "y_train", 2)
    xv, yv = as3(x_valid, "x_valid", 3), as3(y_valid, "y_valid", 2)
    if xt.shape[:2] != yt.shape or xv.shape[:2] != yv.shape or xt.shape[0] != xv.shape[0] \
            or xt.shape[2] != xv.shape[2]:
        raise ConfigError(f"array shapes disagree: x_train {xt.shape}, y_train {yt.shape}, "
                          f"x_valid {xv.shape}, y_valid {yv.shape}")
    if not 1 <= xt.shape[2] <= 256:
        raise ConfigError(f"feature size {xt.shape[2]} is out of range; allowed 1..256")
    if classify and not (np.isin(yt, (0.0, 1.0)).all() and np.isin(yv, (0.0, 1.0)).all()):
        raise ConfigError("classification labels must be 0 or 1")
    T, N = yt.shape
    orders = np.stack([_epoch_orders(N, epochs, numpy_generator(seed, t, 3274582109)) for t in range(T)])
    keys = np.array([mix64(np.uint64(seed * 7919 + t)) for t in range(T)], dtype=np.uint64)
    return TaskSet(xt, yt, orders, xv, yv, np.full(T, bool(classify)), keys)
