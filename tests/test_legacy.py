"""Run directories written by an earlier layout of zeroevo still resume, exactly.

``tests/data/legacy_v1`` holds two small runs recorded by zeroevo before the package was
split into subpackages (schema 1, no manifest): a demo program run stopped at 1,500 births
and a neural run of 5 births. They must keep resuming with every later version.
"""
from __future__ import annotations

import shutil

from tests.conftest import ROOT
from zeroevo.runs.birthlog import read_log
from zeroevo.runs.lifecycle import load_config, resume_run, start_run
from zeroevo.runs.rundir import RunDir

LEGACY = ROOT / "tests" / "data" / "legacy_v1"


def _copy(name, tmp_path):
    return shutil.copytree(LEGACY / name, tmp_path / name)


def _rows(path):
    log = read_log(path)
    return {k: log.column(k).to_pylist() for k in log.column_names if k not in ("time", "metrics")}


def test_a_legacy_program_run_resumes_to_the_straight_log(tmp_path):
    old = _copy("program", tmp_path)
    config = load_config(RunDir(old))
    resume_run(old, max_births=3000).run()
    start_run(config.replace("run", max_births=3000), tmp_path / "straight")[0].run()
    assert _rows(old) == _rows(tmp_path / "straight")


def test_a_legacy_neural_run_resumes(tmp_path):
    old = _copy("neural", tmp_path)
    result = resume_run(old, max_births=7).run()
    assert result.births == 7
    assert _rows(old)["birth"] == list(range(7))
