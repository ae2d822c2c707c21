"""The trainer, the neural evaluator and network export, on tiny synthetic data."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from zeroevo.core.errors import ConfigError, GenomeError
from zeroevo.core.protocols import (
    STATUS_FAILED,
    STATUS_OK,
    STATUS_STOPPED,
    EvalRequest,
    Evaluator,
)
from zeroevo.core.registry import make_evaluator, make_space
from zeroevo.neural.evaluator import NeuralEvaluator, state_from_bytes, state_to_bytes
from zeroevo.neural.export import export_network
from zeroevo.neural.fidelity import Fidelity, Limits
from zeroevo.neural.trainer import count_flops, evaluate_model, train_model
from zeroevo.spaces.layers import Conv, Dense, Dropout, LayerGenome, LayerSpace, MaxPool

try:
    from zeroevo.data.images import ImageData
except ImportError:  # datasets.py is written concurrently; the trainer only needs these fields
    @dataclasses.dataclass(frozen=True)
    class ImageData:  # type: ignore[no-redef]
        name: str
        x_train: np.ndarray
        y_train: np.ndarray
        x_test: np.ndarray
        y_test: np.ndarray
        classes: tuple[str, ...]


def synthetic(channels: int = 1, size: int = 8, n: int = 240, seed: int = 0) -> ImageData:
    """Noise images; class 1 has a brighter top half (easy to learn, not trivial)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 160, (n + 60, channels, size, size)).astype(np.uint8)
    y = (np.arange(n + 60) % 2).astype(np.int64)
    x[y == 1, :, : size // 2] += 90
    return ImageData("synthetic", x[:n], y[:n], x[n:], y[n:], ("dark", "bright"))


DATA = synthetic()
FID = Fidelity(epochs=2, train_subset=160, valid_subset=64, batch_size=32, lr=0.05)
SPACE = LayerSpace(conv_filters=(4, 8), dense_units=(8,))
GENOME = LayerGenome((Conv(8, 3, 1), MaxPool(3, 2, inputs=(0,)), Dropout(0.1, inputs=(1,)),
                      Conv(4, 3, 1, inputs=(-1, 2))))


def build(genome: LayerGenome = GENOME, shape: tuple[int, int, int] = (1, 8, 8)) -> nn.Module:
    return SPACE.build(genome, shape, 2)


def test_seeded_training_is_reproducible() -> None:
    models = [build(), build(), build()]  # construction draws from the global RNG; training must not
    before = torch.random.get_rng_state()
    deterministic = torch.are_deterministic_algorithms_enabled()
    a = train_model(models[0], DATA, FID, seed=5)
    b = train_model(models[1], DATA, FID, seed=5)
    assert a.status == STATUS_OK and 0.0 <= a.fitness <= 1.0
    assert a.fitness == a.metrics["val_accuracy"] and a.metrics["epochs_done"] == 2
    strip = lambda m: {k: v for k, v in m.items() if k != "train_seconds"}  # noqa: E731
    assert strip(a.metrics) == strip(b.metrics)
    assert a.state.keys() == b.state.keys()
    assert all(np.array_equal(a.state[k], b.state[k]) for k in a.state)
    c = train_model(models[2], DATA, FID, seed=6)
    assert not np.array_equal(a.state["nodes.0.weight"], c.state["nodes.0.weight"])
    # The caller's global RNG and determinism flag are left as they were.
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.are_deterministic_algorithms_enabled() == deterministic


def test_training_learns_and_augments_colour_images() -> None:
    data = synthetic(channels=3, size=8, n=320, seed=1)
    fid = dataclasses.replace(FID, epochs=4, train_subset=256, lr=0.1)
    outcome = train_model(build(shape=(3, 8, 8)), data, fid, seed=0)
    assert outcome.status == STATUS_OK
    assert outcome.fitness > 0.8
    assert set(outcome.metrics) >= {"val_accuracy", "params", "flops", "train_seconds", "epochs_done"}


def test_input_statistics_come_from_the_training_subset() -> None:
    outcome = train_model(build(), DATA, dataclasses.replace(FID, epochs=1), seed=0)
    mean = outcome.state["input_norm.mean"]
    assert mean.shape == (1,) and 0.2 < float(mean[0]) < 0.6
    assert float(outcome.state["input_norm.std"][0]) > 0.05


def test_evaluate_model_on_test_split() -> None:
    model = build()
    outcome = train_model(model, DATA, FID, seed=1)
    acc = evaluate_model(model, DATA.x_test, DATA.y_test)
    assert 0.0 <= acc <= 1.0
    as_float = evaluate_model(model, DATA.x_test.astype(np.float32) / 255, DATA.y_test, batch_size=7)
    assert acc == as_float
    assert outcome.state is not None


def test_nan_loss_is_a_failure_not_an_exception() -> None:
    outcome = train_model(build(), DATA, dataclasses.replace(FID, lr=1e12, weight_decay=0.0), seed=0)
    assert outcome.status == STATUS_FAILED and outcome.fitness == 0.0
    assert "non-finite" in outcome.reason and outcome.state is None


def test_limits_fail_the_candidate() -> None:
    over = train_model(build(), DATA, FID, seed=0, limits=Limits(max_params=10))
    assert over.status == STATUS_FAILED and over.fitness == 0.0 and "max_params" in over.reason
    assert over.metrics["params"] > 10
    slow = train_model(build(), DATA, FID, seed=0, limits=Limits(max_seconds=1e-9))
    assert slow.status == STATUS_FAILED and "max_seconds" in slow.reason


def test_shape_errors_fail_the_candidate() -> None:
    broken = nn.Sequential(nn.Flatten(), nn.Linear(5, 2))  # 64 features arrive, 5 expected
    outcome = train_model(broken, DATA, FID, seed=0)
    assert outcome.status == STATUS_FAILED and outcome.reason.startswith("RuntimeError")


def test_hurdles_stop_training() -> None:
    stopped = train_model(build(), DATA, dataclasses.replace(FID, epochs=3), seed=0, hurdles=(0.0, 1.01))
    assert stopped.status == STATUS_STOPPED and stopped.metrics["epochs_done"] == 2
    assert stopped.fitness == stopped.metrics["val_accuracy"] > 0
    passed = train_model(build(), DATA, FID, seed=0, hurdles=(0.0,))
    assert passed.status == STATUS_OK and passed.metrics["epochs_done"] == 2


def test_weight_inheritance_copies_matching_tensors() -> None:
    parent = train_model(build(), DATA, FID, seed=0)
    same = train_model(build(), DATA, dataclasses.replace(FID, epochs=1), seed=1, init_state=parent.state)
    assert same.metrics["inherited"] == len(parent.state)
    # A wider first conv: its weight and bias (and the next conv's weight) no longer match.
    wider = LayerGenome((Conv(4, 3, 1),) + GENOME.layers[1:])
    child = train_model(build(wider), DATA, dataclasses.replace(FID, epochs=1), seed=1, init_state=parent.state)
    assert child.metrics["inherited"] == len(parent.state) - 3
    assert state_from_bytes(state_to_bytes(parent.state)).keys() == parent.state.keys()


def test_flops_count_multiply_adds() -> None:
    model = SPACE.build(LayerGenome((Conv(4, 3, 1), Dense(8, inputs=(0,)))), (1, 8, 8), 2)
    assert count_flops(model, (1, 8, 8)) == 8 * 8 * 4 * 9 + 4 * 8 + 8 * 2


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"batch_size": 1}, {"lr": -1.0}, {"precision": "fp8"},
                                 {"augment": "yes"}, {"epoch": 3}])
def test_bad_fidelity_raises_config_error(bad: dict) -> None:
    with pytest.raises(ConfigError):
        Fidelity.from_dict(bad)


def test_bad_limits_and_data_fit_raise_config_error() -> None:
    with pytest.raises(ConfigError):
        Limits.from_dict({"max_params": 0})
    with pytest.raises(ConfigError):
        train_model(build(), DATA, dataclasses.replace(FID, valid_subset=1000), seed=0)


# -- the evaluator -----------------------------------------------------------------------------

CONFIG = {"space": "layers", "space_config": {"conv_filters": [4, 8], "dense_units": [8]},
          "dataset": "unused", "fidelity": {"epochs": 2, "train_subset": 160, "valid_subset": 64,
                                            "batch_size": 32}}


def test_neural_evaluator() -> None:
    evaluator = NeuralEvaluator(CONFIG, data=DATA)
    assert isinstance(evaluator, Evaluator)
    genome = SPACE.encode(GENOME)
    result = evaluator.evaluate(EvalRequest("layers", genome, seed=3))
    assert result.status == STATUS_OK and result.steps == 2 and result.fitness == result.metrics["val_accuracy"]
    json.dumps(result.metrics)  # plain data
    again = evaluator.evaluate(EvalRequest("layers", genome, seed=3))
    assert again.fitness == result.fitness
    short = evaluator.evaluate(EvalRequest("layers", genome, seed=3, budget={"epochs": 1}))
    assert short.steps == 1
    hurdled = evaluator.evaluate(EvalRequest("layers", genome, seed=3, hurdles=(1.01,)))
    assert hurdled.status == STATUS_STOPPED and hurdled.steps == 1
    parent = evaluator.train(EvalRequest("layers", genome, seed=3))
    child = evaluator.evaluate(EvalRequest("layers", genome, seed=4, parent_state=state_to_bytes(parent.state)))
    assert child.metrics["inherited"] == len(parent.state)
    with pytest.raises(GenomeError):
        evaluator.evaluate(EvalRequest("layers", {"layers": [{"op": "lstm"}]}, seed=0))
    with pytest.raises(ConfigError):
        evaluator.evaluate(EvalRequest("nasnet", genome, seed=0))
    with pytest.raises(ConfigError):
        evaluator.evaluate(EvalRequest("layers", genome, seed=0, budget={"epochz": 1}))


def test_evaluator_registry_and_config_errors() -> None:
    evaluator = make_evaluator("neural", CONFIG)
    assert isinstance(evaluator, NeuralEvaluator) and evaluator.space.conv_filters == (4, 8)
    with pytest.raises(ConfigError):
        make_evaluator("neural", {**CONFIG, "datset": "digits"})
    with pytest.raises(ConfigError):
        make_evaluator("neural", {**CONFIG, "fidelity": {"epochs": 0}})
    with pytest.raises(ConfigError):
        make_evaluator("neural", {"space": "layers"})


# -- export ------------------------------------------------------------------------------------

def test_export_round_trip(tmp_path) -> None:
    model = build()
    outcome = train_model(model, DATA, FID, seed=2)
    path = export_network(SPACE, GENOME, outcome.state, (1, 8, 8), 2, tmp_path / "best")
    assert path.name == "network.py" and (path.parent / "weights.npz").is_file()
    assert "zeroevo" not in "".join(line for line in path.read_text().splitlines() if "import" in line)
    images = DATA.x_test[:6].astype(np.float32) / 255
    np.save(tmp_path / "images.npy", images)
    model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(images)).numpy()
    # A fresh interpreter in which zeroevo cannot be imported at all.
    script = (
        "import sys; sys.modules['zeroevo'] = None; sys.path.insert(0, sys.argv[1]);"
        "import numpy as np, torch, network;"
        "net = network.load();"
        "out = net(torch.from_numpy(np.load(sys.argv[2]))).detach().numpy();"
        "np.save(sys.argv[3], out)"
    )
    subprocess.run([sys.executable, "-c", script, str(path.parent), str(tmp_path / "images.npy"),
                    str(tmp_path / "out.npy")], check=True, cwd=tmp_path)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)
    with np.load(path.parent / "weights.npz", allow_pickle=False) as weights:
        assert set(weights.files) == set(outcome.state)


def test_export_works_for_other_spaces(tmp_path) -> None:
    try:
        space = make_space("nasnet", {})
    except ConfigError:
        pytest.skip("the nasnet space is not registered")
    genome = space.random(np.random.default_rng(0))
    model = space.build(genome, (3, 8, 8), 4, 0.25)
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    assert export_network(space, genome, state, (3, 8, 8), 4, tmp_path, width=0.25).is_file()
