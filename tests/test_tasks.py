"""Task generators and task sets (zeroevo/tasks.py)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from zeroevo.core.errors import ConfigError
from zeroevo.core.rng import numpy_generator
from zeroevo.programs.tasks import TaskSet, TaskSpec, from_arrays, generate

FASHION = Path("/usr/share/datasets/fashion-mnist")

ARRAYS = ("x_train", "y_train", "order", "x_valid", "y_valid", "classify", "exec_keys")


def equal_sets(a: TaskSet, b: TaskSet) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ARRAYS)


@pytest.mark.parametrize("kind", ("linear", "relu_teacher"))
def test_shapes_and_types(kind: str) -> None:
    ts = generate(TaskSpec(kind=kind, num_tasks=3, features=5, num_train=20, num_valid=7, epochs=3))
    assert ts.x_train.shape == (3, 20, 5) and ts.y_train.shape == (3, 20)
    assert ts.x_valid.shape == (3, 7, 5) and ts.y_valid.shape == (3, 7)
    assert ts.order.shape == (3, 3, 20) and ts.order.dtype == np.int64
    assert ts.classify.shape == (3,) and not ts.classify.any()
    assert ts.exec_keys.shape == (3,) and ts.exec_keys.dtype == np.uint64
    assert len(set(ts.exec_keys.tolist())) == 3
    assert ts.num_tasks == 3 and ts.features == 5 and ts.train_steps == 60
    for a in (ts.x_train, ts.y_train, ts.x_valid, ts.y_valid):
        assert a.dtype == np.float64 and a.flags.c_contiguous and np.isfinite(a).all()


@pytest.mark.parametrize("kind", ("linear", "relu_teacher"))
def test_determinism_and_seeds(kind: str) -> None:
    spec = TaskSpec(kind=kind, num_tasks=2, features=4, num_train=30, num_valid=10, epochs=2,
                    data_seeds=(5,), param_seeds=(9,))
    a, b = generate(spec), generate(spec)
    assert equal_sets(a, b)
    # a new data seed changes the features, orders and random-op keys
    d = generate(TaskSpec(**{**spec.__dict__, "data_seeds": (6,)}))
    assert not np.array_equal(d.x_train, a.x_train) and not np.array_equal(d.order[:, 1], a.order[:, 1])
    assert not np.array_equal(d.exec_keys, a.exec_keys)
    # data seed 6 is task 1's seed in `a`: task 0 of `d` shares its features
    assert np.array_equal(d.x_train[0], a.x_train[1])
    # a new parameter seed changes only the labels
    p = generate(TaskSpec(**{**spec.__dict__, "param_seeds": (10,)}))
    assert np.array_equal(p.x_train, a.x_train) and np.array_equal(p.order, a.order)
    assert not np.array_equal(p.y_train, a.y_train)
    # tasks of one set differ from each other
    assert not np.array_equal(a.x_train[0], a.x_train[1]) and not np.array_equal(a.y_train[0], a.y_train[1])


def test_seed_lists() -> None:
    spec = TaskSpec(num_tasks=4, data_seeds=(1_000_000,), param_seeds=(7, 3))
    assert spec.seeds() == ([1_000_000, 1_000_001, 1_000_002, 1_000_003], [7, 3, 4, 5])
    assert TaskSpec(num_tasks=2).seeds() == ([11000, 11001], [1000, 1001])
    assert TaskSpec(num_tasks=2, data_seeds=(1, 2, 3)).seeds()[0] == [1, 2]
    s1, s2 = spec.with_seeds(42), spec.with_seeds(42)
    assert s1 == s2 and s1 != spec.with_seeds(43)
    assert len(s1.data_seeds) == len(s1.param_seeds) == 4 and s1.num_tasks == 4
    assert len(set(s1.data_seeds)) == 4 and set(s1.data_seeds).isdisjoint(s1.param_seeds)


def test_linear_labels_are_x_dot_w_exactly() -> None:
    spec = TaskSpec(kind="linear", num_tasks=3, features=6, num_train=40, num_valid=15)
    ts = generate(spec)
    data_seeds, param_seeds = spec.seeds()
    ws = []
    for t in range(3):
        x = np.concatenate([ts.x_train[t], ts.x_valid[t]])
        y = np.concatenate([ts.y_train[t], ts.y_valid[t]])
        # independent: one weight vector explains train and valid, with no noise
        w, *_ = np.linalg.lstsq(x, y, rcond=None)
        assert np.abs(x @ w - y).max() < 1e-12
        # exact: w ~ N(0, 1)^F from the parameter seed's stream
        w_gen = numpy_generator(param_seeds[t], 997958712).standard_normal(6)
        assert np.allclose(w, w_gen, atol=1e-12)
        assert np.array_equal(y, x @ w_gen)
        ws.append(w_gen)
    assert not np.allclose(ws[0], ws[1])
    # features are standard normal
    x = ts.x_train.reshape(-1, 6)
    assert abs(x.mean()) < 0.15 and abs(x.std() - 1.0) < 0.15


@pytest.mark.parametrize("F", (1, 2, 3, 4, 8))
def test_relu_teacher_uses_the_zeroed_units(F: int) -> None:
    spec = TaskSpec(kind="relu_teacher", num_tasks=2, features=F, num_train=60, num_valid=20)
    ts = generate(spec)
    _, param_seeds = spec.seeds()
    for t in range(2):
        x = np.concatenate([ts.x_train[t], ts.x_valid[t]])
        y = np.concatenate([ts.y_train[t], ts.y_valid[t]])
        g = numpy_generator(param_seeds[t], 174299604)
        w1 = g.standard_normal((F, F))
        w2 = g.standard_normal(F)
        dead = [k for k in (0, 2) if k < F]
        w1[dead] = 0.0
        w2[dead] = 0.0
        assert np.array_equal(y, np.maximum(x @ w1.T, 0.0) @ w2)
        if F <= 1:
            assert not y.any()  # the only hidden unit is switched off
            continue
        # the zeroing matters: with units 0 and 2 alive the labels would differ
        g = numpy_generator(param_seeds[t], 174299604)
        full1, full2 = g.standard_normal((F, F)), g.standard_normal(F)
        assert not np.allclose(y, np.maximum(x @ full1.T, 0.0) @ full2)
        # F - len(dead) effective units: each label is a sum over the live units only
        live = [k for k in range(F) if k not in dead]
        np.testing.assert_allclose(y, np.maximum(x @ w1[live].T, 0.0) @ w2[live], rtol=0, atol=1e-12)
        if F >= 4:  # a ReLU teacher is not linear
            w, *_ = np.linalg.lstsq(x, y, rcond=None)
            assert np.abs(x @ w - y).max() > 0.1


def test_epoch_orders() -> None:
    ts = generate(TaskSpec(num_tasks=3, num_train=25, num_valid=5, epochs=4))
    for t in range(3):
        assert np.array_equal(ts.order[t, 0], np.arange(25))  # epoch 0: stored order
        for e in range(1, 4):
            assert sorted(ts.order[t, e].tolist()) == list(range(25))
            assert not np.array_equal(ts.order[t, e], np.arange(25))
            assert not np.array_equal(ts.order[t, e], ts.order[t, e - 1])
    assert not np.array_equal(ts.order[0, 1], ts.order[1, 1])  # per-task shuffles


def test_from_arrays() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    xv, yv = rng.normal(size=(10, 3)), rng.normal(size=10)
    ts = from_arrays(x, y, xv, yv, epochs=2, seed=4)
    assert ts.x_train.shape == (1, 30, 3) and ts.order.shape == (1, 2, 30) and not ts.classify.any()
    assert np.array_equal(ts.x_train[0], x) and np.array_equal(ts.y_valid[0], yv)
    assert np.array_equal(ts.order[0, 0], np.arange(30))
    assert sorted(ts.order[0, 1].tolist()) == list(range(30))
    assert equal_sets(ts, from_arrays(x, y, xv, yv, epochs=2, seed=4))
    assert not np.array_equal(ts.exec_keys, from_arrays(x, y, xv, yv, epochs=2, seed=5).exec_keys)
    stacked = from_arrays(np.stack([x, x]), np.stack([y, y]), np.stack([xv, xv]), np.stack([yv, yv]))
    assert stacked.num_tasks == 2 and stacked.exec_keys[0] != stacked.exec_keys[1]
    c = from_arrays(x, (y > 0).astype(float), xv, (yv > 0).astype(float), classify=True)
    assert c.classify.all()


@pytest.mark.parametrize("args,kwargs,message", [
    (lambda x, y, xv, yv: (x, y[:-1], xv, yv), {}, "shapes disagree"),
    (lambda x, y, xv, yv: (x, y, xv[:, :2], yv), {}, "shapes disagree"),
    (lambda x, y, xv, yv: (x[0], y, xv, yv), {}, "x_train has shape"),
    (lambda x, y, xv, yv: (x[None, None], y, xv, yv), {}, "x_train has shape"),
    (lambda x, y, xv, yv: (np.where(x > 1, np.nan, x), y, xv, yv), {}, "x_train contains NaN or inf"),
    (lambda x, y, xv, yv: (x, y, xv, np.where(yv > 1, np.inf, yv)), {}, "y_valid contains NaN or inf"),
    (lambda x, y, xv, yv: (x, y, xv, yv), {"classify": True}, "labels must be 0 or 1"),
    (lambda x, y, xv, yv: (x[:, :0], y, xv[:, :0], yv), {}, "feature size 0 is out of range"),
    (lambda x, y, xv, yv: (np.zeros((30, 257)), y, np.zeros((10, 257)), yv), {}, "feature size 257"),
])
def test_from_arrays_refuses_bad_input(args, kwargs, message) -> None:
    rng = np.random.default_rng(1)
    arrays = args(rng.normal(size=(30, 3)), rng.normal(size=30), rng.normal(size=(10, 3)), rng.normal(size=10))
    with pytest.raises(ConfigError, match=message):
        from_arrays(*arrays, **kwargs)


@pytest.mark.parametrize("field,value,message", [
    ("kind", "quadratic", "unknown task kind 'quadratic'"),
    ("num_tasks", 0, "tasks.num_tasks = 0"),
    ("num_train", 0, "tasks.num_train = 0"),
    ("epochs", 0, "tasks.epochs = 0"),
    ("features", 257, "tasks.features = 257 is out of range"),
])
def test_task_spec_refuses_bad_fields(field, value, message) -> None:
    with pytest.raises(ConfigError, match=message):
        TaskSpec(**{field: value})


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_binary_projected_on_fashion_mnist() -> None:
    spec = TaskSpec(kind="binary_projected", num_tasks=3, features=6, num_train=200, num_valid=60)
    ts = generate(spec)
    assert ts.x_train.shape == (3, 200, 6) and ts.x_valid.shape == (3, 60, 6)
    assert ts.classify.all()
    for t in range(3):
        assert set(np.unique(ts.y_train[t])) == {0.0, 1.0} and set(np.unique(ts.y_valid[t])) <= {0.0, 1.0}
        assert 0.3 < ts.y_train[t].mean() < 0.7  # balanced classes, shuffled
        np.testing.assert_allclose(ts.x_train[t].mean(axis=0), 0.0, atol=1e-9)  # standardized on train
        np.testing.assert_allclose(ts.x_train[t].std(axis=0), 1.0, atol=1e-9)
        assert np.abs(ts.x_valid[t].mean(axis=0)).max() < 1.0 and np.isfinite(ts.x_valid[t]).all()
    assert not np.array_equal(ts.x_train[0], ts.x_train[1])
    assert equal_sets(ts, generate(spec))
    # the classes can be named; the task is still seeded
    named = generate(TaskSpec(**{**spec.__dict__, "classes": (7, 9), "num_tasks": 1}))
    assert set(np.unique(named.y_train[0])) == {0.0, 1.0}
    with pytest.raises(ConfigError, match="two different classes"):
        generate(TaskSpec(**{**spec.__dict__, "classes": (3, 3), "num_tasks": 1}))
    with pytest.raises(ConfigError, match="two different classes"):
        generate(TaskSpec(**{**spec.__dict__, "classes": (0, 10), "num_tasks": 1}))


def test_held_out_pairs_never_appear_in_search_tasks() -> None:
    from zeroevo.programs.tasks import HELD_OUT_PAIRS, task_pair
    from zeroevo.runs.presets import load_preset

    cfg = load_preset("binary-fashion")
    held = set(HELD_OUT_PAIRS)
    search = {task_pair(cfg.search_tasks.with_seeds(seed), ds, 10) for seed in range(60)
              for ds in cfg.search_tasks.with_seeds(seed).seeds()[0]}
    assert len(search) == 36 and not search & held  # every search pair drawn, none held out
    for spec in (cfg.select_tasks.with_seeds(3), cfg.final_tasks):
        assert {task_pair(spec, ds, 10) for ds in spec.seeds()[0]} <= held
    assert cfg.final_tasks.valid_split == "test" and cfg.search_tasks.valid_split == "train"


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_final_tasks_validate_on_test_split_images() -> None:
    from zeroevo.data.images import load_image_dataset

    images = load_image_dataset("fashion_mnist")
    spec = TaskSpec(kind="binary_projected", num_tasks=2, features=8, num_train=100, num_valid=40, pairs="held_out",
                    valid_split="test", data_seeds=(5,), param_seeds=(6,))
    tasks = generate(spec)
    assert tasks.x_train.shape == (2, 100, 8) and tasks.x_valid.shape == (2, 40, 8)
    assert set(np.unique(tasks.y_valid)) == {0.0, 1.0} and len(images.x_test) == 10000
    other = generate(dataclasses.replace(spec, valid_split="train"))
    assert not np.array_equal(other.x_valid, tasks.x_valid) and np.array_equal(other.x_train, tasks.x_train)
