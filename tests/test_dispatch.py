"""Dispatchers: serial, process and Dask give the same results; dead workers lose nothing.

Workers are separate processes, so the test evaluator is named by import path
(``tests.test_dispatch:Sleepy``) and rebuilt in each worker from that name and its config.
"""
from __future__ import annotations

import gc
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import psutil
import pytest

from zeroevo.core.errors import ConfigError, GenomeError
from zeroevo.core.protocols import STATUS_FAILED, STATUS_OK, EvalRequest, EvalResult
from zeroevo.dispatch import EvaluationError, evaluate_request, make_dispatcher
from zeroevo.dispatch.dask_cluster import DaskDispatcher
from zeroevo.dispatch.process import ProcessDispatcher
from zeroevo.dispatch.serial import SerialDispatcher

ROOT = Path(__file__).resolve().parents[1]
SLEEPY = "tests.test_dispatch:Sleepy"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


class Sleepy:
    """A deterministic evaluator: fitness from a hash of the genome and seed, after a nap.

    Config: ``delay`` (seconds), ``raise_genome`` / ``boom`` / ``die`` (a genome ``x`` that
    raises ``GenomeError``, raises ``ValueError``, or kills its process with exit code 3).
    """

    def __init__(self, config: dict) -> None:
        self.config = config

    def evaluate(self, request: EvalRequest) -> EvalResult:
        x = request.genome.get("x")
        if x == self.config.get("raise_genome"):
            raise GenomeError(f"genome {x} is malformed")
        if x == self.config.get("boom"):
            raise ValueError(f"boom at {x}")
        if x == self.config.get("die"):
            os._exit(3)
        time.sleep(self.config.get("delay", 0.005))
        digest = hashlib.sha256(json.dumps([request.genome, request.seed], sort_keys=True).encode()).digest()
        fitness = int.from_bytes(digest[:8], "little") / 2.0**64
        return EvalResult(fitness, STATUS_OK, {"x": x, "h": digest[8:12].hex()}, steps=int(digest[12]))


def requests(n: int) -> list[EvalRequest]:
    return [EvalRequest("test", {"x": i, "w": [i, 2 * i]}, seed=1000 + i, birth=i) for i in range(n)]


def run_all(dispatcher, reqs: list[EvalRequest], kill_after: int | None = None, kill=None) -> dict:
    """Submit everything, collect via done() and wait(); optionally call kill() midway."""
    for i, r in enumerate(reqs):
        dispatcher.submit(i, r)
    results = {}
    for i in range(len(reqs)):
        results.update(dispatcher.done())
        if i == kill_after:
            kill()
        if i not in results:
            results[i] = dispatcher.wait(i)
    assert dispatcher.done() == []
    return results


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_dead(pids, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


@pytest.fixture(scope="module")
def expected() -> dict:
    return {i: evaluate_request(SLEEPY, {"delay": 0}, r) for i, r in enumerate(requests(50))}


def test_serial_and_process_agree(expected):
    reqs = requests(50)
    serial = make_dispatcher("serial", SLEEPY, {"delay": 0.002})
    assert run_all(serial, reqs) == expected
    with make_dispatcher("process", SLEEPY, {"delay": 0.002}, workers=2) as proc:
        assert proc.capacity == 2
        assert run_all(proc, reqs) == expected
        pids = proc.pids()
        assert len(set(pids)) == 2 and os.getpid() not in pids
    assert wait_dead(pids) == []


def test_local_dask_cluster_agrees_and_is_closed(expected):
    # Another local cluster on the machine (a second run, a parallel test) holds dask's
    # default HTTP port, 8787: ours must take a free port without a "port in use" warning.
    with socket.socket() as held, warnings.catch_warnings(record=True) as caught:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            held.bind(("", 8787))
            held.listen()
        except OSError:
            pass  # already held by someone else: the same situation
        warnings.simplefilter("always")
        dask = make_dispatcher("dask", SLEEPY, {"delay": 0.002}, workers=2)
    try:
        assert not [str(w.message) for w in caught if "already in use" in str(w.message)]
        assert isinstance(dask, DaskDispatcher) and dask.cluster is not None
        assert dask.capacity == 2
        worker_pids = list(dask.client.run(os.getpid).values())
        assert len(set(worker_pids)) == 2 and os.getpid() not in worker_pids
        assert run_all(dask, requests(50)) == expected
    finally:
        dask.close()
    assert dask.cluster.status.name == "closed" and dask.client.status == "closed"
    assert wait_dead(worker_pids) == []


def test_process_worker_killed_midrun_loses_nothing(expected):
    proc = ProcessDispatcher(SLEEPY, {"delay": 0.02}, workers=2)
    killed = []

    def kill() -> None:
        busy = [w.process.pid for w in proc._workers.values() if w.key is not None]
        killed.append(busy[0])
        os.kill(busy[0], signal.SIGKILL)

    try:
        assert run_all(proc, requests(50), kill_after=10, kill=kill) == expected
        assert proc.restarts == 1 and killed[0] not in proc.pids() and len(proc.pids()) == 2
    finally:
        proc.close()
    assert wait_dead(killed + proc.pids()) == []


def test_errors_reach_wait_and_a_deadly_request_fails():
    config = {"raise_genome": 3, "boom": 5, "die": 7, "delay": 0}
    proc = ProcessDispatcher(SLEEPY, config, workers=2, max_deaths=2)
    try:
        for i, r in enumerate(requests(9)):
            proc.submit(i, r)
        with pytest.raises(GenomeError, match="genome 3 is malformed"):
            proc.wait(3)
        with pytest.raises(EvaluationError, match="ValueError: boom at 5"):
            proc.wait(5)
        dead = proc.wait(7)
        assert dead.status == STATUS_FAILED and "2 times" in dead.reason
        assert proc.restarts == 2
        rest = dict(proc.done())
        rest.update({i: proc.wait(i) for i in (0, 1, 2, 4, 6, 8) if i not in rest})
        assert sorted(rest) == [0, 1, 2, 4, 6, 8] and proc.done() == []
        with pytest.raises(KeyError):
            proc.wait(3)
        with pytest.raises(ValueError, match="already submitted"):
            proc.submit(100, requests(1)[0])
            proc.submit(100, requests(1)[0])
    finally:
        proc.close()
    serial = SerialDispatcher(SLEEPY, config)
    serial.submit(0, requests(4)[3])
    with pytest.raises(GenomeError):
        serial.wait(0)


def test_workers_stop_on_garbage_collection_and_with_their_parent():
    proc = ProcessDispatcher(SLEEPY, {}, workers=2)
    pids = proc.pids()
    assert all(alive(p) for p in pids)
    del proc
    gc.collect()
    assert wait_dead(pids) == []

    script = ("from zeroevo.dispatch.process import ProcessDispatcher\n"
              "d = ProcessDispatcher('tests.test_dispatch:Sleepy', {}, workers=2)\n"
              "print(*d.pids(), flush=True)\n"
              "import time; time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        pids += [c.pid for c in psutil.Process(parent.pid).children(recursive=True)]  # + resource tracker
        parent.kill()
        parent.wait(10)
        assert wait_dead(pids, timeout=5) == []
    finally:
        parent.kill()
        parent.wait(10)


def test_make_dispatcher_refuses_bad_input():
    with pytest.raises(ConfigError, match="unknown dispatcher 'threads'; allowed: serial, process, dask"):
        make_dispatcher("threads", SLEEPY, {})
    with pytest.raises(ConfigError, match="plain JSON"):
        make_dispatcher("serial", SLEEPY, {"f": object()})
    with pytest.raises(ConfigError, match="workers must be at least 1"):
        make_dispatcher("process", SLEEPY, {}, workers=0)
    with pytest.raises(ConfigError, match="cannot be imported"):
        evaluate_request("tests.test_dispatch:Nope", {}, requests(1)[0])
    with pytest.raises(ConfigError, match="unknown evaluator"):
        evaluate_request("no-such-evaluator", {}, requests(1)[0])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster():
    """A real ``dask scheduler`` and two ``dask worker`` processes (no nanny) on 127.0.0.1."""
    dask_bin = str(Path(sys.executable).with_name("dask"))
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"env": ENV, "cwd": ROOT, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([dask_bin, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], **quiet)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen(
                [dask_bin, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                 "--no-nanny"], **quiet))
        yield address, procs
    finally:
        for p in reversed(procs):  # workers first, then the scheduler
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        assert wait_dead([p.pid for p in procs]) == []


@pytest.mark.slow
def test_dask_cluster_survives_a_killed_worker(dask_cluster, expected):
    address, procs = dask_cluster
    dask = DaskDispatcher(SLEEPY, {"delay": 0.05}, address=address)
    try:
        dask.client.wait_for_workers(2, timeout=60)
        assert dask.capacity == 2 and dask.cluster is None
        address_of = {pid: addr for addr, pid in dask.client.run(os.getpid).items()}
        assert set(address_of) == {procs[1].pid, procs[2].pid}

        def kill() -> None:
            assert dask.client.processing()[address_of[procs[1].pid]]  # it has work in hand
            os.kill(procs[1].pid, signal.SIGKILL)

        assert run_all(dask, requests(50), kill_after=10, kill=kill) == expected
        assert procs[1].wait(10) == -signal.SIGKILL
        assert set(dask.client.run(os.getpid).values()) == {procs[2].pid}
    finally:
        dask.close()
