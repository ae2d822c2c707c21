"""The README runs as written: every shell and Python block, in order, in one folder.

Blocks run as a new user would run them after installing: shell blocks with ``bash -e`` (the
``zeroevo`` command on PATH), Python blocks with this interpreter, all in one temporary
folder so later blocks find what earlier ones wrote (``runs/demo4`` ...). Every run gets a
small budget through ``ZEROEVO_MAX_BIRTHS`` (see ``ConfigBase.capped``), so the README
cannot drift from the code without this test failing. A block preceded by
``<!-- readme-test: skip REASON -->`` is not run (the install command, which CI itself
runs; a scheduler address that exists only on the reader's network).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BLOCK = re.compile(r"(<!-- readme-test: skip[^>]*-->\s*)?```(bash|python)\n(.*?)```", re.S)


def readme_blocks() -> list[tuple[str, str, bool]]:
    """``(language, code, skipped)`` of every bash and python block of README.md, in order."""
    text = (ROOT / "README.md").read_text()
    return [(m.group(2), m.group(3), bool(m.group(1))) for m in BLOCK.finditer(text)]


def test_the_readme_has_blocks_and_skips_only_what_it_says():
    blocks = readme_blocks()
    assert blocks[0][0] == "bash" and "zeroevo evolve --preset demo" in blocks[0][1] and blocks[0][2]
    assert blocks[1] == ("bash", "bash .ci/run\n", True)
    assert sum(skipped for *_, skipped in blocks) <= 3


@pytest.mark.slow
def test_every_readme_block_runs(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "zeroevo"
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} -m zeroevo.cli \"$@\"\n")
    launcher.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
           "ZEROEVO_MAX_BIRTHS": "20", "MPLBACKEND": "Agg"}
    ran = 0
    for i, (language, code, skipped) in enumerate(readme_blocks()):
        if skipped:
            continue
        cmd = ["bash", "-e", "-c", code] if language == "bash" else [sys.executable, "-c", code]
        res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, f"README block {i} ({language}) failed:\n{code}\n{res.stdout[-2000:]}{res.stderr[-3000:]}"
        ran += 1
    assert ran >= 8


def test_the_smoke_budget_caps_births_and_the_neural_final_stage(monkeypatch):
    from zeroevo.runs.presets import load_preset

    monkeypatch.setenv("ZEROEVO_MAX_BIRTHS", "20")
    demo = load_preset("demo").capped()
    nasnet = load_preset("fashion-nasnet").capped()
    assert demo.run.max_births == 20 and nasnet.run.max_births == 20
    assert (nasnet.final.top_k, nasnet.final.epochs, nasnet.final.train_subset) == (1, 1, 1024)
    layers = load_preset("fashion-layers").capped().evaluation  # its one-shot supernet: 30 ep on 16,384 img
    assert (layers.supernet_epochs, layers.supernet_subset) == (1, 256)
    monkeypatch.setenv("ZEROEVO_MAX_BIRTHS", "0")
    with pytest.raises(Exception, match="ZEROEVO_MAX_BIRTHS"):
        demo.capped()
