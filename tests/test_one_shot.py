"""One-shot evaluation: a supernet trained once, checkpointed, births scored by their path."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.test_neural_search import _log, _strip_timing
from zeroevo.core.errors import ConfigError
from zeroevo.core.protocols import STATUS_OK
from zeroevo.runs.lifecycle import resume_run, start_run
from zeroevo.runs.manifest import Manifest
from zeroevo.runs.presets import load_preset
from zeroevo.runs.storage import read_bundle
from zeroevo.runs.verify import verify

ROOT = Path(__file__).resolve().parents[1]
SPACES = {
    "nasnet": ("fashion-nasnet", {"blocks": 2, "stacks": 2, "cells_per_stack": 1, "filters": 4}),
    "layers": ("fashion-layers", {"max_layers": 3, "max_inputs": 2, "conv_block": True, "conv_filters": [4, 8],
                                  "ops": ["conv", "maxpool", "dense"], "initial_ops": ["conv", "maxpool"]}),
}


def one_shot(space: str = "nasnet", births: int = 12, epochs: int = 3):
    preset, options = SPACES[space]
    cfg = load_preset(preset).replace("data", dataset="digits").replace("space", options=options)
    cfg = cfg.replace("fidelity", train_subset=256, valid_subset=128, epochs=1, batch_size=32, lr=0.05)
    cfg = cfg.replace("evaluation", strategy="one_shot", supernet_epochs=epochs, supernet_subset=0,
                      recalibrate_batches=2)
    cfg = cfg.replace("final", top_k=1, epochs=1, train_subset=256, valid_subset=128)
    return cfg.replace("run", max_births=births, snapshot_every=4).replace("evolution", population=4, tournament=2)


def _weights(run: Path) -> dict:
    entry = Manifest.load(run).checkpoints[-1]
    arrays, meta = read_bundle(run / "checkpoints" / entry["file"])
    return {"epoch": meta["epoch"], **{k: v.tobytes() for k, v in arrays.items()}}


@pytest.mark.parametrize("space", sorted(SPACES))
def test_births_are_scored_by_their_path_and_the_final_stage_trains_from_scratch(tmp_path, space):
    result = start_run(one_shot(space), tmp_path / "r")[0].run()
    log = _log(tmp_path / "r")
    assert result.births == 12 and set(log["status"]) == {STATUS_OK}
    metrics = [json.loads(m) for m in log["metrics"]]
    assert all(m["supernet_epochs"] == 3 and "score_seconds" in m and m["params"] > 0 for m in metrics)
    manifest = Manifest.load(tmp_path / "r")
    assert [c["step"] for c in manifest.checkpoints] == [2, 3]  # the newest two are kept
    assert result.final is not None and result.test_accuracy is not None  # trained stand-alone, then tested
    assert verify(tmp_path / "r").ok


def test_a_run_killed_while_the_supernet_trains_resumes_to_the_same_log(tmp_path):
    cfg = one_shot(epochs=6)
    start_run(cfg, tmp_path / "straight")[0].run()
    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", (
        "from tests.test_one_shot import one_shot; from zeroevo.runs.lifecycle import start_run; "
        f"start_run(one_shot(epochs=6), {str(run)!r})[0].run()")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    while not (run / "checkpoints" / "supernet-000002.arrow").exists() and proc.poll() is None:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    resume_run(run).run()
    assert _weights(run) == _weights(tmp_path / "straight")
    assert _strip_timing(_log(run)) == _strip_timing(_log(tmp_path / "straight"))
    # Stopped in the middle of evolution, then resumed: the same births again.
    start_run(cfg.replace("run", max_births=6), tmp_path / "stopped")[0].run()
    resume_run(tmp_path / "stopped", max_births=12).run()
    assert _strip_timing(_log(tmp_path / "stopped")) == _strip_timing(_log(tmp_path / "straight"))


def test_a_damaged_newest_checkpoint_is_retrained_from_the_one_before(tmp_path):
    cfg = one_shot(births=8)
    start_run(cfg.replace("run", max_births=12), tmp_path / "straight")[0].run()
    start_run(cfg, tmp_path / "r")[0].run()
    newest = tmp_path / "r" / "checkpoints" / Manifest.load(tmp_path / "r").checkpoints[-1]["file"]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    assert any("checkpoint" in w for w in verify(tmp_path / "r").warnings)
    with pytest.warns(UserWarning, match="does not match its checksum"):
        resume_run(tmp_path / "r", max_births=12).run()
    assert _weights(tmp_path / "r") == _weights(tmp_path / "straight")
    assert _strip_timing(_log(tmp_path / "r")) == _strip_timing(_log(tmp_path / "straight"))


def test_what_one_shot_cannot_do_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="has none"):
        from zeroevo.neural.search import NeuralSearch
        NeuralSearch(load_preset("fashion-hierarchical").replace("evaluation", strategy="one_shot"))
    staged = one_shot("layers").replace("space", options={**one_shot("layers").space.options, "reductions": 2})
    with pytest.raises(ConfigError, match="reductions = 0"):
        NeuralSearch(staged)
    with pytest.raises(ConfigError, match="evaluation.hurdles"):
        one_shot().replace("evaluation", hurdles=True)
    with pytest.raises(ConfigError, match="evaluation.strategy"):
        one_shot().replace("evaluation", strategy="supernet")


def test_a_checkpoint_of_another_supernet_is_refused_in_one_line():
    # A supernet's weights fit only a supernet of the same space config and layout; loading
    # another's must say so instead of failing in torch's load_state_dict.
    from zeroevo.neural.evaluator import NeuralEvaluator
    from zeroevo.neural.oneshot import OneShot

    def shot(options: dict) -> OneShot:
        cfg = one_shot("layers").replace("space", options=options)
        return OneShot(NeuralEvaluator(cfg.evaluator_config()), 1, cfg.evaluation)

    class Stored:  # what a run's recorder returns: the newest checkpoint's arrays and meta
        def __init__(self, other: OneShot) -> None:
            other.epoch = 1
            self.bundle = other._state(2.3)

        def latest_checkpoint(self, name: str):
            return self.bundle

    options = SPACES["layers"][1]
    same, wider = Stored(shot(options)), Stored(shot({**options, "max_layers": 4}))
    assert shot(options).train(same, deadline=0) is False  # loads, then stops at the deadline
    with pytest.raises(ConfigError, match="another supernet's weights"):
        shot(options).train(wider)


def test_paths_score_above_chance_after_training():
    # The whole path end to end: trained shared weights, copied into stand-alone networks and
    # recalibrated, classify well above chance (ten classes), and better than untrained ones.
    from zeroevo.core.protocols import EvalRequest
    from zeroevo.neural.config import NeuralEvaluation
    from zeroevo.neural.evaluator import NeuralEvaluator
    from zeroevo.neural.oneshot import OneShot

    cfg = one_shot().replace("fidelity", train_subset=1024, valid_subset=256)
    evaluator = NeuralEvaluator(cfg.evaluator_config())

    def mean_score(epochs: int) -> float:
        shot = OneShot(evaluator, 1, NeuralEvaluation(supernet_epochs=epochs, recalibrate_batches=4))
        shot.train(None)
        rng = np.random.default_rng(0)
        return float(np.mean([shot.evaluate(EvalRequest("nasnet", shot.space.encode(shot.space.random(rng)), 0)).fitness
                              for _ in range(8)]))

    trained = mean_score(10)
    assert trained > 0.15 and trained > mean_score(1) + 0.05, trained


def test_supernet_subset_widens_what_trains_the_supernet_not_what_scores_a_path(tmp_path):
    # A path trains only on the steps that sample it, so the supernet gets its own, larger
    # training subset; the validation images that score a path stay the fidelity's.
    search = start_run(one_shot("layers", births=4, epochs=1).replace("evaluation", supernet_subset=512),
                       tmp_path / "r")[0]
    search.run()
    from zeroevo.neural.oneshot import OneShot

    wide = search.one_shot.split
    narrow = OneShot(search.one_shot.evaluator, 1, replace(search.config.evaluation, supernet_subset=0)).split
    assert (len(wide.y_train), len(narrow.y_train)) == (512, 256)
    assert np.array_equal(wide.x_valid.numpy(), narrow.x_valid.numpy())
    with pytest.raises(ConfigError, match="supernet_subset"):
        one_shot().replace("evaluation", supernet_subset=-1)
