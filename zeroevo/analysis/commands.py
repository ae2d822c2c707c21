"""``zeroevo analyze``: read a recorded program run (summary, best, lineage, mutations, ...).

A click group; ``zeroevo.cli`` adds it with ``main.add_command(analyze)``, and it also
runs on its own (``python -m zeroevo.analysis.commands RUN_DIR``). Every subcommand takes a
run directory; a foreign, corrupt or empty one prints one ``error:`` line and exits 2.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from zeroevo.core.errors import ZeroevoError


class _Group(click.Group):
    """zeroevo's user-facing errors become one ``error:`` line and exit status 2."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except ZeroevoError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


def _json(data: Any) -> None:
    from zeroevo.analysis.run import to_jsonable

    click.echo(json.dumps(to_jsonable(data), indent=1))


def _f(x: float | None, digits: int = 6) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


_RUN_DIR = click.argument("run_dir", type=click.Path())
_AS_JSON = click.option("--json", "as_json", is_flag=True, help="print one JSON object on stdout")
_BIRTH = click.option("--birth", type=click.IntRange(min=0), help="a logged birth instead of the best program")
_TASKS = click.option("--tasks", "limit", type=click.IntRange(min=0), default=0, show_default=True,
                      help="verify on the first N tasks of each task set (0 = all)")


@click.group(cls=_Group)
def analyze() -> None:
    """Inspect a recorded run: summary, best program, lineage, mutations, dead code, export, plots."""


@analyze.command()
@_RUN_DIR
@_AS_JSON
def summary(run_dir: str, as_json: bool) -> None:
    """Births, restarts, best fitness, FEC hit rate, speed, status and mutation counts."""
    from zeroevo.analysis.programs import summary as summarize
    from zeroevo.analysis.run import open_run

    run = open_run(run_dir)
    if run.spec is None:
        from zeroevo.analysis import neural as neural_analysis

        s = neural_analysis.summary(run)
        if as_json:
            _json(s)
            return
        for key, value in s.items():
            if key != "integrity":
                click.echo(f"{key:<18} {value}")
        _integrity_lines(run)
        return
    s = summarize(run)
    if as_json:
        _json(s)
        return
    rate = "off" if s["fec_hit_rate"] is None else f"{s['fec_hit_rate']:.1%}"
    speed = "n/a" if s["births_per_second"] is None else f"{s['births_per_second']:,.0f}"
    click.echo(f"run          {s['run_dir']}  (preset {s['preset'] or '-'}, seed {s['seed']}, "
               f"config {s['config_hash']})")
    click.echo(f"births       {s['births']:,}  (last birth {s['last_birth']:,}), restarts {s['restarts']} "
               f"({s['restarts_selected']} selected), islands {s['islands']}")
    click.echo(f"best         search {_f(s['best_search_fitness'])}  select {_f(s['best_select_fitness'])}  "
               f"birth {s['best_birth'] if s['best_birth'] is not None else 'n/a'}  solved {s['solved']}")
    click.echo(f"FEC hit rate {rate}")
    click.echo(f"speed        {speed} births/s over {s['wall_seconds']:.1f} s wall, "
               f"{s['train_steps']:,} train steps")
    click.echo("status       " + "  ".join(f"{k} {v:,}" for k, v in s["status_counts"].items()))
    click.echo("mutations    " + "  ".join(f"{k} {v:,}" for k, v in s["mutation_counts"].items()))
    if not s["restarts_selected"]:
        click.echo("note         stopped before any restart finished: no program was selected yet")
    _integrity_lines(run)


def _integrity_lines(run) -> None:  # noqa: ANN001 - analysis.run.Run
    from zeroevo.analysis.run import integrity

    for event in integrity(run)["events"]:
        if event["kind"] == "snapshot_fallback":
            click.echo(f"integrity    {event['time']}: snapshot(s) {', '.join(event['bad'])} failed their "
                       f"check; the run resumed from {event['used'] or 'its start'}")
        elif event["kind"] == "manifest_created":
            click.echo(f"integrity    {event['time']}: manifest created on resume ({event['reason']})")


@analyze.command()
@_RUN_DIR
@_AS_JSON
def best(run_dir: str, as_json: bool) -> None:
    """The best program as code, with its search, select and final fitness."""
    from zeroevo.analysis.programs import best_report
    from zeroevo.analysis.run import open_run

    run = open_run(run_dir)
    if run.spec is None:
        from zeroevo.analysis import neural as neural_analysis

        r = neural_analysis.best(run)
        if as_json:
            _json(r)
            return
        click.echo(r["text"])
        click.echo(f"\nbirth {r['birth']}  search validation accuracy {r['fitness']:.4f}  "
                   f"parameters {r['metrics'].get('params', 'n/a')}")
        f = r["final"]
        if f is None:
            click.echo("final stage: none recorded (the search has not finished, or [final] top_k = 0)")
        else:
            click.echo(f"final stage winner: test accuracy {f['test_accuracy']:.4f}  validation {f['val_accuracy']:.4f}  "
                       f"parameters {f['params']:,}  FLOPs {f['flops']:,}  ({f['runs']} retraining(s))")
        return
    r = best_report(run)
    if as_json:
        _json(r)
        return
    click.echo(r["program"])
    src = "" if r["source"] == "best.json" else "  (the best search fitness of the newest snapshot)"
    click.echo(f"\nbirth {r['birth']}  restart {r['restart']}{src}")
    select = "not selected: no restart finished" if r["select_fitness"] is None else _f(r["select_fitness"])
    click.echo(f"fitness: search {_f(r['search_fitness'])}  select {select}  final {_f(r['final_fitness'])}")
    for name, b in (r.get("baselines") or {}).items():
        click.echo(f"  vs {name.replace('_', ' ')} (hand-written, lr {b['lr']:g}, same final tasks): "
                   f"final {_f(b['final_fitness'])}")


@analyze.command()
@_RUN_DIR
@_AS_JSON
@_BIRTH
def lineage(run_dir: str, as_json: bool, birth: int | None) -> None:
    """The ancestry of the best program (or of --birth N), regenerated by replay."""
    from zeroevo.analysis.lineage import ancestry
    from zeroevo.analysis.programs import program_of
    from zeroevo.analysis.run import open_run
    from zeroevo.spaces.program.space import decode, render

    run = open_run(run_dir)
    if run.spec is None:
        from zeroevo.analysis import neural as neural_analysis

        chain = neural_analysis.lineage(run, birth)
        if as_json:
            _json(chain)
            return
        for s in chain:
            delta = "" if s["change"] is None else f"  ({s['change']:+.4f})"
            click.echo(f"birth {s['birth']:>6}  {s['mutation']:<14} {s['status']:<8} fitness {s['fitness']:.4f}{delta}")
        click.echo(f"\n{chain[-1]['text']}")
        return
    target = program_of(run, None)[1] if birth is None else birth
    steps = ancestry(run.path, target)
    stored = [e for e in run.run_dir.best() if isinstance(e, dict) and e.get("birth") == target]
    verified = None
    if stored:
        verified = all(decode(run.spec, e["genome"]) == steps[-1].program for e in stored)
        if not verified:
            from zeroevo.core.errors import RunDirError

            raise RunDirError(f"replaying the ancestry of birth {target} does not reproduce the genome "
                              "stored in best.json: the run does not match this code")
    if as_json:
        _json({"birth": target, "steps": [s.to_json() for s in steps], "verified_against_best_json": verified,
               "program": render(steps[-1].program, run.spec.features)})
        return
    click.echo(f"ancestry of birth {target}: {len(steps)} steps from {steps[0].mutation} birth {steps[0].birth}")
    for s in steps:
        delta = "" if s.delta is None else f"  ({s.delta:+.6f})"
        click.echo(f"birth {s.birth:>10}  restart {s.restart:<3} {s.mutation:<22} fitness {s.fitness:.6f}{delta}")
        for c in s.changes:
            click.echo(f"    {c.text()}")
    click.echo(f"\n{render(steps[-1].program, run.spec.features)}")
    if verified is not None:
        click.echo("\nregenerated genome equals the one stored in best.json: yes")


@analyze.command()
@_RUN_DIR
@_AS_JSON
def mutations(run_dir: str, as_json: bool) -> None:
    """Per mutation type: births, share, how often it improved on the parent, mean change."""
    from zeroevo.analysis.programs import mutation_stats
    from zeroevo.analysis.run import open_run

    rows = mutation_stats(open_run(run_dir))
    if as_json:
        _json(rows)
        return
    click.echo(f"{'mutation':<22} {'births':>10} {'share':>7} {'improved':>9} {'rate':>7} "
               f"{'of impr.':>8} {'mean dfit':>10}")
    for r in rows:
        rate = "-" if r["improved_rate"] is None else f"{r['improved_rate']:.2%}"
        share_imp = "-" if r["share_of_improvements"] is None else f"{r['share_of_improvements']:.1%}"
        mean = "-" if r["mean_delta"] is None else f"{r['mean_delta']:+.5f}"
        click.echo(f"{r['mutation']:<22} {r['count']:>10,} {r['share']:>7.1%} {r['improved']:>9,} {rate:>7} "
                   f"{share_imp:>8} {mean:>10}")
    click.echo("\nimproved: children fitter than their parent (fitness as logged); rate: improved / children "
               "with a parent;\nof impr.: the type's share of all improving births; mean dfit: mean child "
               "minus parent fitness")


@analyze.command()
@_RUN_DIR
@_AS_JSON
@_BIRTH
@_TASKS
def simplify(run_dir: str, as_json: bool, birth: int | None, limit: int) -> None:
    """Drop instructions that cannot affect a prediction; verify identical predictions."""
    from zeroevo.analysis.programs import simplify as simplify_
    from zeroevo.analysis.run import open_run, require_program

    run = open_run(run_dir)
    require_program(run, "simplify")
    r = simplify_(run, birth, limit)
    if as_json:
        _json(r)
        return
    click.echo(r["program"])
    before, after = r["instructions_before"], r["instructions_after"]
    per = ", ".join(f"{k} {before[k]} -> {after[k]}" for k in before)
    click.echo(f"\nbirth {r['birth']}: dropped {r['dropped']} of {sum(before.values())} instructions ({per})")
    for v in r["verified"]:
        click.echo(f"verified on {v['num_tasks']} {v['tasks']} tasks: {v['predictions']:,} predictions "
                   f"identical bit for bit (fitness {v['fitness']:.6f})")


@analyze.command()
@_RUN_DIR
@click.option("--out", type=click.Path(),
              help="programs: write the module here (default: stdout); neural runs: a folder")
@_BIRTH
@click.option("--full", is_flag=True, help="keep dead instructions (default: export the simplified program)")
@_TASKS
def export(run_dir: str, out: str | None, birth: int | None, full: bool, limit: int) -> None:
    """The best program as a standalone numpy module, verified against zeroevo."""
    import tempfile

    from zeroevo.analysis.programs import export as export_
    from zeroevo.analysis.run import open_run

    run = open_run(run_dir)
    if run.spec is None:
        from zeroevo.analysis import neural as neural_analysis

        path = neural_analysis.export(run, out or "exported-network", birth)
        click.echo(f"wrote {path} and {path.with_name('weights.npz')} (retrained as evaluated; reloaded and "
                   "checked to give the same outputs)")
        return
    if out is not None:
        r = export_(run, out, birth, full, limit)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            r = export_(run, Path(tmp) / "program.py", birth, full, limit)
        click.echo(r["source"], nl=False)
    checks = "; ".join(f"{v['num_tasks']} {v['tasks']} tasks, {v['predictions']:,} predictions"
                       for v in r["verified"])
    where = f"wrote {out}: " if out is not None else ""
    click.echo(f"{where}birth {r['birth']}, verified against zeroevo's {r['compared_with']} and the numba "
               f"kernel's fitness ({checks}): identical", err=out is None)


@analyze.command()
@_RUN_DIR
@click.option("--cost", help="neural runs: params, flops, latency, latency_batch or table_latency (default: "
                             "the run's objective cost, else params)")
@click.option("--png", type=click.Path(dir_okay=False), help="also draw the births and the front to this PNG")
@_AS_JSON
def front(run_dir: str, cost: str | None, png: str | None, as_json: bool) -> None:
    """The Pareto front of accuracy against cost over every birth (export a member with
    `zeroevo analyze export RUN --birth N`)."""
    from zeroevo.analysis.front import front as pareto
    from zeroevo.analysis.front import plot_front
    from zeroevo.analysis.run import open_run

    run = open_run(run_dir)
    data = pareto(run, cost)
    if png:
        plot_front(data, png, f"{Path(run_dir).name}: accuracy against {data['cost']}")
    if as_json:
        _json({k: v for k, v in data.items() if k != "all"})
        return
    click.echo(f"Pareto front of {data['births']:,} births: fitness against {data['cost']} "
               f"(hypervolume {data['hypervolume']:.6g} to cost {data['reference_cost']:.6g})")
    click.echo(f"{'birth':>10}  {'fitness':>9}  {data['cost']:>12}")
    for m in data["members"]:
        click.echo(f"{m['birth']:>10}  {m['fitness']:>9.6f}  {m['cost']:>12.6g}")
    if png:
        click.echo(f"wrote {png}")


@analyze.command()
@_RUN_DIR
@click.option("--out", type=click.Path(dir_okay=False), help="PNG file (default: RUN_DIR/progress.png)")
def plot(run_dir: str, out: str | None) -> None:
    """Best and mean population fitness against births and wall time; FEC hit rate."""
    from zeroevo.analysis.plots import plot_run
    from zeroevo.analysis.run import open_run

    run = open_run(run_dir)
    path = plot_run(run, out or run.path / "progress.png")
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    analyze()
