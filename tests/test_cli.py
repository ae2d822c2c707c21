"""The command line as a user meets it: presets, evolve, and one-line errors for bad input."""
from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli


def _one_error_line(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_presets_list_and_show_round_trip(tmp_path):
    proc = run_cli("presets")
    assert proc.returncode == 0
    for name in ("demo", "nonlinear", "binary-fashion"):
        assert name in proc.stdout
    shown = run_cli("presets", "show", "demo")
    assert shown.returncode == 0 and "[evolution]" in shown.stdout and "# " in shown.stdout
    cfg = tmp_path / "demo.toml"
    cfg.write_text(shown.stdout.replace("population = 1000", "population = 60")
                   .replace("max_train_steps = 200000000.0", "max_train_steps = 300000.0"))
    proc = run_cli("evolve", "--config", str(cfg), "--max-births", "500", "--json", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path / "runs").iterdir())) == 1  # the default folder, under the working directory
    out = json.loads(proc.stdout)
    for key in ("births", "restarts", "solved", "search_fitness", "select_fitness", "final_fitness",
                "fec_hit_rate", "cpu_seconds", "wall_seconds", "program"):
        assert key in out
    assert out["births"] == 500 and "def predict():" in out["program"]


@pytest.mark.parametrize("toml, needle", [
    ("[evolution]\npopulaton = 5\n", "unknown field evolution.populaton; allowed: algorithm, population"),
    ("[evolution]\npopulation = 'big'\n", "evolution.population = 'big' is not allowed; expected an integer"),
    ("[evolution]\npopulation = 1\n", "evolution.population = 1 is not allowed; expected 2..10000000"),
    ("[evaluation]\ncombine = 'max'\n", "expected 'mean' or 'median'"),
    ("[program]\nlearn_ops = ['NOPE']\n", "unknown op 'NOPE' in learn ops; allowed: SCALAR_SUM"),
    ("[program]\nfeatures = 8\n", "search_tasks.features = 4 is not allowed; expected program.features (8)"),
    ("[surprise]\nx = 1\n", "unknown section [surprise]; allowed: run, program"),
    ("[evolution\n", "is not valid TOML"),
    ("preset = 'nope'\n", "unknown preset 'nope'; allowed: demo"),
    ("[search_tasks]\nkind = 'cubic'\n", "unknown task kind 'cubic'; allowed: linear, relu_teacher"),
])
def test_bad_config_gives_one_clear_line(tmp_path, toml, needle):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    line = _one_error_line(run_cli("evolve", "--config", str(cfg), "--quiet"))
    assert needle in line


def test_unknown_preset_and_missing_file():
    assert "unknown preset 'nope'; allowed: demo, nonlinear, binary-fashion" in \
        _one_error_line(run_cli("evolve", "--preset", "nope"))
    assert "unknown preset" in _one_error_line(run_cli("presets", "show", "nope"))
    assert "cannot read config" in _one_error_line(run_cli("evolve", "--config", "/no/such.toml"))


def test_evolve_set_changes_the_recorded_config_and_refuses_a_bad_field_in_one_line(tmp_path):
    proc = run_cli("evolve", "--preset", "demo", "--set", "evolution.population=40", "--set", "evolution.tournament=3",
                   "--max-births", "200", "--out", str(tmp_path / "r"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    evolution = json.loads((tmp_path / "r" / "meta.json").read_text())["config"]["evolution"]
    assert (evolution["population"], evolution["tournament"]) == (40, 3)
    line = _one_error_line(run_cli("evolve", "--set", "evolution.tournamnt=3", "--out", str(tmp_path / "bad")))
    assert "unknown field evolution.tournamnt" in line and not (tmp_path / "bad").exists()


def test_bad_option_values_are_refused_without_traceback():
    proc = run_cli("evolve", "--max-births", "0")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--max-births" in proc.stderr


def test_a_config_file_over_a_preset_changes_only_the_nested_fields_it_names(tmp_path):
    from zeroevo.runs.configs import load
    from zeroevo.runs.presets import load_preset, preset_data

    cfg = tmp_path / "fullres.toml"
    cfg.write_text('preset = "fashion-layers"\nkind = "neural"\n[space.options]\nconv_strides = [1]\n')
    options = load(cfg, preset_data=preset_data).space.options
    assert options == {**load_preset("fashion-layers").space.options, "conv_strides": [1]}
    other = tmp_path / "other.toml"
    other.write_text('preset = "fashion-layers"\nkind = "neural"\n[space]\nname = "nasnet"\n[space.options]\nblocks = 2\n')
    assert load(other, preset_data=preset_data).space.options == {"blocks": 2}


def test_set_overrides_change_only_the_fields_they_name_and_refuse_bad_ones_in_one_line():
    from zeroevo.core.config import overridden
    from zeroevo.core.errors import ConfigError
    from zeroevo.runs.presets import load_preset

    base = load_preset("fashion-layers")
    cfg = overridden(base, ["space.options.conv_strides=[1]", "evolution.tournament=2", "run.seed=7"])
    assert cfg.space.options == {**base.space.options, "conv_strides": [1]}
    assert (cfg.evolution.tournament, cfg.evolution.population, cfg.run.seed) == (2, base.evolution.population, 7)
    assert cfg.preset == base.preset and overridden(base, []) is base
    for item, says in [("evolution.tournament", "SECTION.FIELD=JSON"), ("tournament=2", "SECTION.FIELD=JSON"),
                       ("evolution.tournament=two", "not JSON"), ("evolution.bogus=1", "unknown field"),
                       ("preset.x=1", "unknown section"), ("kind.x=1", "unknown section")]:
        with pytest.raises(ConfigError, match=says):
            overridden(base, [item])
