"""Neural searches on the shared engine: determinism, lag, workers, resume, failures, hurdles."""
from __future__ import annotations

import dataclasses
import json

import pytest

from tests.conftest import run_cli
from zeroevo.core.protocols import STATUS_FAILED, STATUS_STOPPED
from zeroevo.runs.birthlog import read_log
from zeroevo.runs.lifecycle import resume_run, start_run
from zeroevo.runs.presets import load_preset


@pytest.fixture
def tiny():
    cfg = load_preset("fashion-layers")
    cfg = cfg.replace("data", dataset="digits")
    cfg = cfg.replace("fidelity", train_subset=256, valid_subset=128, epochs=2, batch_size=32, lr=0.1)
    cfg = cfg.replace("space", options={"max_layers": 4})
    cfg = cfg.replace("run", max_births=10, snapshot_every=3).replace("final", top_k=0)
    return cfg.replace("evolution", population=4, tournament=2)


def _log(path):
    log = read_log(path)
    return {k: log.column(k).to_pylist() for k in log.column_names if k not in ("time",)}


def _strip_timing(log):
    out = dict(log)
    out["metrics"] = [{k: v for k, v in json.loads(m).items() if "seconds" not in k and "latency" not in k} for m in log["metrics"]]
    return out


def test_same_seed_same_log_and_lag_is_what_matters(tmp_path, tiny):
    start_run(tiny, tmp_path / "a")[0].run()
    start_run(tiny, tmp_path / "b")[0].run()
    assert _strip_timing(_log(tmp_path / "a")) == _strip_timing(_log(tmp_path / "b"))
    genomes = _log(tmp_path / "a")["genome"]
    assert all(json.loads(g) for g in genomes)


def test_same_log_serial_and_with_1_2_3_workers_and_dask(tmp_path, tiny):
    # Float sums depend on torch's thread count: the trainer sets it for every training, so
    # the process this one runs in (2 cores, default threads) trains like a 1-thread worker.
    lag3 = tiny.replace("dispatch", lag=3)
    start_run(lag3, tmp_path / "serial")[0].run()
    serial = _strip_timing(_log(tmp_path / "serial"))
    for backend, workers in (("process", 1), ("process", 2), ("process", 3), ("dask", 2)):
        name = f"{backend}{workers}"
        start_run(lag3.replace("dispatch", backend=backend, workers=workers), tmp_path / name)[0].run()
        assert _strip_timing(_log(tmp_path / name)) == serial, name


def test_neural_resume_equals_straight(tmp_path, tiny):
    cfg = tiny.replace("dispatch", lag=2)
    start_run(cfg, tmp_path / "straight")[0].run()
    start_run(cfg.replace("run", max_births=5), tmp_path / "resumed")[0].run()
    result = resume_run(tmp_path / "resumed", max_births=10).run()
    assert _strip_timing(_log(tmp_path / "straight")) == _strip_timing(_log(tmp_path / "resumed"))
    assert result.births == 10


def test_failures_are_logged_not_fatal_and_hurdles_stop(tmp_path, tiny):
    cfg = tiny.replace("limits", max_params=300).replace("evaluation", hurdles=True, hurdle_quantile=0.9)
    result = start_run(cfg.replace("run", max_births=12), tmp_path / "r")[0].run()
    log = _log(tmp_path / "r")
    reasons = [json.loads(m)["reason"] for m in log["metrics"]]
    assert result.births == 12
    assert STATUS_FAILED in log["status"] and any("max_params" in r for r in reasons)
    ok = tiny.replace("evaluation", hurdles=True, hurdle_quantile=1.0).replace("run", max_births=12)
    start_run(ok, tmp_path / "h")[0].run()
    assert STATUS_STOPPED in _log(tmp_path / "h")["status"]


def test_random_search_baseline_and_cli(tmp_path, tiny):
    rand = tiny.replace("evolution", algorithm="random")
    start_run(rand, tmp_path / "rand")[0].run()
    log = _log(tmp_path / "rand")
    assert set(log["mutation"]) == {0, 1} and set(log["parent"]) == {-1}
    toml = tmp_path / "n.toml"
    toml.write_text('preset = "fashion-layers"\n[data]\ndataset = "digits"\n[fidelity]\ntrain_subset = 128\n'
                    'valid_subset = 64\nepochs = 1\n[evolution]\npopulation = 3\ntournament = 2\n'
                    '[final]\ntop_k = 0\n')
    proc = run_cli("evolve", "--config", str(toml), "--max-births", "4", "--out", str(tmp_path / "cli"),
                   "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["births"] == 4 and "head:" in out["program"] and 0 <= out["best_fitness"] <= 1
    # --workers N without a lag in the config gives lag 4N (workers stay busy; see the CLI).
    proc = run_cli("evolve", "--config", str(toml), "--max-births", "4", "--workers", "2",
                   "--out", str(tmp_path / "cli2"), "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "cli2" / "meta.json").read_text())["config"]["dispatch"]["lag"] == 8


def test_analyze_a_neural_run(tmp_path, tiny):
    start_run(tiny.replace("run", max_births=6), tmp_path / "r")[0].run()
    run = str(tmp_path / "r")
    for cmd in (["summary", "--json"], ["best", "--json"], ["lineage", "--json"], ["mutations", "--json"]):
        proc = run_cli("analyze", *cmd, run)
        assert proc.returncode == 0, proc.stderr
        json.loads(proc.stdout)
    best = json.loads(run_cli("analyze", "best", "--json", run).stdout)
    proc = run_cli("analyze", "export", run, "--out", str(tmp_path / "net"))
    assert proc.returncode == 0, proc.stderr
    # The exported network loads without zeroevo's search code and scores like the log says.
    import importlib.util
    import sys

    import numpy as np
    import torch

    spec = importlib.util.spec_from_file_location("exported_net", tmp_path / "net" / "network.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["exported_net"] = module
    spec.loader.exec_module(module)
    net = module.load(str(tmp_path / "net" / "weights.npz"))
    x = torch.from_numpy(np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32))
    assert net(x).shape == (5, 10)
    assert best["fitness"] >= 0
    proc = run_cli("analyze", "simplify", run)
    assert proc.returncode == 2 and "applies to program runs" in proc.stderr


def test_the_final_stage_retrains_the_top_architectures_and_reports_test_accuracy(tmp_path, tiny):
    cfg = tiny.replace("final", top_k=2, seeds=2, epochs=2, train_subset=512, valid_subset=256)
    result = start_run(cfg, tmp_path / "r")[0].run()
    final = json.loads((tmp_path / "r" / "final.json").read_text())
    assert final["complete"] and len(final["candidates"]) == 2
    assert all(len(c["runs"]) == 2 and 0 < c["test_accuracy"] <= 1 and c["params"] > 0 for c in final["candidates"])
    genomes = [json.dumps(c["genome"], sort_keys=True) for c in final["candidates"]]
    assert len(set(genomes)) == 2  # distinct architectures
    won = final["candidates"][final["winner"]]
    assert won["val_accuracy"] == max(c["val_accuracy"] for c in final["candidates"])  # chosen by validation
    assert result.test_accuracy == won["test_accuracy"]
    out = json.loads(run_cli("analyze", "best", "--json", str(tmp_path / "r")).stdout)
    assert out["birth"] == won["birth"] and out["final"]["test_accuracy"] == won["test_accuracy"]
    assert out["final"]["params"] == won["params"] and out["final"]["flops"] == won["flops"]

    # A final stage cut short: resume finishes it, keeping what was done.
    first = dict(final["candidates"][0], runs=final["candidates"][0]["runs"][:1])
    cut = dict(final, candidates=[first, dict(final["candidates"][1], runs=[])], complete=False, winner=None)
    (tmp_path / "r" / "final.json").write_text(json.dumps(cut))
    resumed = resume_run(tmp_path / "r").run()
    again = json.loads((tmp_path / "r" / "final.json").read_text())

    def timeless(data):
        return [[{k: v for k, v in r.items() if k != "train_seconds"} for r in c["runs"]] for c in data["candidates"]]
    assert timeless(again) == timeless(final) and again["winner"] == final["winner"]
    assert resumed.test_accuracy == result.test_accuracy


def test_the_final_stage_trains_at_its_own_batch_size(tiny):
    # A short proxy wants small batches, a long retraining does not: final.batch_size sets
    # the retrainings' minibatch, 0 keeps the search fidelity's.
    from zeroevo.core.errors import ConfigError
    from zeroevo.neural.evaluator import NeuralEvaluator
    from zeroevo.neural.final import Archive, run_final_stage

    class Recorder:
        def __init__(self):
            self.requests = []

        def submit(self, key, request):
            self.requests.append(request)

        def wait(self, key):
            from zeroevo.core.protocols import EvalResult
            return EvalResult(0.5, metrics={"val_accuracy": 0.5, "test_accuracy": 0.5})

    archive = Archive()
    archive.add({"layers": []}, 0.5, 0)
    evaluator = NeuralEvaluator(tiny.evaluator_config())
    for batch, expected in ((0, tiny.fidelity.batch_size), (8, 8)):
        recorder = Recorder()
        final = dataclasses.replace(tiny.final, top_k=1, batch_size=batch)
        run_final_stage("layers", archive, 1, final, recorder, None, None)
        (request,) = recorder.requests
        fidelity, _ = evaluator._budgeted(dict(request.budget))
        assert (fidelity.batch_size, fidelity.epochs, request.budget["test"]) == (expected, final.epochs, True)
    with pytest.raises(ConfigError, match="final.batch_size"):
        tiny.replace("final", batch_size=1)
