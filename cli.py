"""The ``zeroevo`` command: a thin click layer that parses, calls zeroevo and prints.

User mistakes (a bad config field or flag, an unknown preset, a corrupt or busy run
directory, a malformed genome) and the machine's refusals (an unwritable path, a full disk)
print one ``error:`` line and exit with status 2; a traceback is a bug. A stop by signal
(Ctrl-C, ``kill``, also of a whole process group) prints ``interrupted`` or ``terminated``
and exits with 128 + the signal's number, leaving a run that verifies and resumes.
"""
from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator

import click

from zeroevo.core.errors import ZeroevoError


def _fail(message: str, status: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt, so a ``kill`` stops a run
    through the same clean path (log and snapshot files closed, workers shut down)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Make SIGTERM, and a SIGINT the launching shell set to ignored, stop like Ctrl-C.

    A job started with ``&`` from a script inherits SIGINT ignored, so ``kill -INT`` would do
    nothing; SIGTERM (``kill``, a batch scheduler's stop) would kill the process without the
    clean stop. Both still leave a resumable run, but silently ignoring a stop is a bug. The
    old handlers come back on exit, so a caller that invokes the command in-process (click's
    test runner, a notebook) keeps its own."""
    if threading.current_thread() is not threading.main_thread():  # only it may set handlers
        yield
        return
    old = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, _raise_terminated)
    if old[signal.SIGINT] is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _interrupted(exc: BaseException | None) -> None:
    """Report a stop by signal in one line and exit 128 + the signal's number."""
    if isinstance(exc, _Terminated):
        click.echo("terminated", err=True)
        sys.exit(128 + signal.SIGTERM)
    click.echo("interrupted", err=True)
    sys.exit(128 + signal.SIGINT)


class _Group(click.Group):
    """Turns user-facing errors (zeroevo's, click's usage errors, the operating system's) into
    one ``error:`` line and exit status 2."""

    def main(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - click's signature
        """Run the command line; click's usage errors become one line, not a usage block."""
        with _stop_on_signals():
            try:
                code = super().main(*args, standalone_mode=False, **kwargs)
            except click.UsageError as exc:
                hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
                _fail(exc.format_message().splitlines()[0] + hint)
            except click.ClickException as exc:
                _fail(exc.format_message())
            except click.Abort as exc:  # click's own wrapper of a KeyboardInterrupt
                _interrupted(exc.__cause__)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        warnings.showwarning = lambda msg, *a, **k: click.echo(f"warning: {msg}", err=True)
        try:
            return super().invoke(ctx)
        except ZeroevoError as exc:
            _fail(str(exc))
        except OSError as exc:  # the machine refused: a path we may not write, a full disk
            where = f": {exc.filename}" if exc.filename else ""
            _fail(f"{exc.strerror or exc}{where}")
        except KeyboardInterrupt as exc:
            _interrupted(exc)


@click.group(cls=_Group)
@click.version_option(package_name="zeroevo")
def main() -> None:
    """Evolve learning algorithms and network architectures by regularized evolution."""


def _load_config(preset: str | None, config_file: str | None):  # noqa: ANN202
    from zeroevo.runs import configs, presets

    if config_file:
        base = presets.preset_data(preset) if preset else None
        return configs.load(config_file, base, presets.preset_data)
    return presets.load_preset(preset or "demo")


class _Progress:
    """Live progress on stderr: one rewritten line on a terminal, a line every 10 s otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, p) -> None:  # noqa: ANN001 - Progress, Compiling, NeuralProgress or SupernetProgress
        if hasattr(p, "stage"):  # kernels compiling: every stage gets its line
            if not self.quiet:
                line = (f"compiling kernels (first run only): {p.index} of {p.count} ({p.stage}), "
                        f"{p.wall_seconds:.0f} s elapsed")
                click.echo(("\r" + line) if self.tty else line, err=True, nl=not self.tty)
                self.last = 0.0
            return
        if hasattr(p, "epochs"):  # a one-shot supernet: every epoch gets its line
            if not self.quiet:
                line = (f"training the supernet: epoch {p.epoch} of {p.epochs}, loss {p.loss:.4f}, "
                        f"{p.wall_seconds:.0f} s elapsed")
                click.echo(("\r" + line) if self.tty else line, err=True, nl=not self.tty)
                self.last = 0.0
            return
        now = time.time()
        if self.quiet or now - self.last < (0.5 if self.tty else 10.0):
            return
        self.last = now
        if hasattr(p, "births_per_minute"):
            line = (f"births {p.births:>6,}  {p.births_per_minute:6.1f}/min  best {p.best_fitness:.4f}  "
                    f"mean {p.mean_fitness:.4f}  failed {p.failed}")
        else:
            line = (f"births {p.births:>11,}  restart {p.restart:>3}  {p.births_per_second:>9,.0f}/s  "
                    f"FEC hits {p.fec_hit_rate:6.1%}  best {p.best_fitness:.6f}  mean {p.mean_fitness:.4f}  "
                    f"select {p.best_select:.6f}")
        click.echo(("\r" + line) if self.tty else line, err=True, nl=not self.tty)

    def close(self) -> None:
        """End the live line."""
        if self.tty and not self.quiet and self.last:
            click.echo("", err=True)


@main.command()
@click.option("--preset", help="start from a named preset (see `zeroevo presets`); default demo")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="a TOML config; its fields override the preset's (its own `preset` line, else demo)")
@click.option("--set", "sets", multiple=True, metavar="SECTION.FIELD=JSON",
              help="change one config field, e.g. evolution.tournament=2 (repeatable; after --config)")
@click.option("--seed", type=int, help="root seed")
@click.option("--max-births", type=click.IntRange(min=1), help="stop after this many births")
@click.option("--max-seconds", type=click.FloatRange(min=0, min_open=True), help="stop after this many seconds")
@click.option("--no-fec", is_flag=True, help="turn the functional equivalence cache off")
@click.option("--engine", type=click.Choice(["chunk", "python"]), help="numba chunk loop or Python reference loop")
@click.option("--out", type=click.Path(file_okay=False),
              help="run directory to record into (default: a new folder under runs/)")
@click.option("--workers", type=click.IntRange(min=1), help="local worker processes (implies --backend process)")
@click.option("--backend", type=click.Choice(["serial", "process", "dask"]), help="where evaluations run")
@click.option("--scheduler", help="Dask scheduler address tcp://HOST:PORT (with --backend dask)")
@click.option("--islands", type=click.IntRange(min=1), help="programs: independent populations")
@click.option("--migrate-every", type=click.IntRange(min=1), help="programs: births per island between migrations")
@click.option("--migrants", type=click.IntRange(min=0), help="programs: programs each island sends on")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object with the result on stdout")
@click.option("--quiet", is_flag=True, help="no live progress")
def evolve(preset: str | None, config_file: str | None, sets: tuple[str, ...], seed: int | None,
           max_births: int | None, max_seconds: float | None, no_fec: bool, engine: str | None, out: str | None,
           workers: int | None, backend: str | None, scheduler: str | None, islands: int | None,
           migrate_every: int | None, migrants: int | None, as_json: bool, quiet: bool) -> None:
    """Run an evolutionary search, record it in a run directory and print the best found."""
    from zeroevo.core.config import overridden
    from zeroevo.runs.lifecycle import start_run

    cfg = overridden(_load_config(preset, config_file), list(sets))
    run_changes = {k: v for k, v in (("seed", seed), ("max_births", max_births),
                                     ("max_seconds", max_seconds), ("engine", engine)) if v is not None}
    if run_changes:
        cfg = cfg.replace("run", **run_changes)
    if no_fec:
        if cfg.kind != "program":
            raise click.UsageError("--no-fec applies to program searches only")
        cfg = cfg.replace("evaluation", fec=False)
    if workers is not None and backend is None:
        backend = "process" if workers > 1 else cfg.dispatch.backend
    if scheduler is not None and backend is None:
        backend = "dask"
    dispatch = {k: v for k, v in (("workers", workers), ("backend", backend), ("scheduler", scheduler),
                                  ("islands", islands), ("migrate_every", migrate_every),
                                  ("migrants", migrants)) if v is not None}
    if cfg.kind == "neural" and "workers" in dispatch:
        # Births commit in order, so a worker idles once the oldest birth in flight is slow
        # and the lag window holds nothing else: 4 per worker kept 2 workers at 2.0x in
        # steady state, 2 per worker at 1.7x (benchmarks/scaling_bench.py).
        dispatch["lag"] = max(cfg.dispatch.lag, 4 * dispatch["workers"])
    if dispatch:
        cfg = cfg.replace("dispatch", **dispatch)
    progress = _Progress(quiet or as_json and not sys.stderr.isatty())
    search, run_dir = start_run(cfg, out, progress)
    if not quiet:
        click.echo(f"zeroevo: preset {cfg.preset or '(config file)'}, seed {cfg.run.seed}, recording in "
                   f"{run_dir.path}", err=True)
    _report(search.run(), progress, as_json)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--max-births", type=click.IntRange(min=1), help="new limit on births in all (extends the run)")
@click.option("--max-seconds", type=click.FloatRange(min=0, min_open=True), help="seconds for this session")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="check the run against this config (refused if it differs, unless --force)")
@click.option("--force", is_flag=True, help="resume even with a changed config (warns)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object with the result on stdout")
@click.option("--quiet", is_flag=True, help="no live progress")
def resume(run_dir: str, max_births: int | None, max_seconds: float | None, config_file: str | None,
           force: bool, as_json: bool, quiet: bool) -> None:
    """Continue a recorded run exactly where its last snapshot left off (after checking it
    end to end, as `zeroevo verify` does)."""
    from zeroevo.runs.lifecycle import resume_run

    cfg = _load_config(None, config_file) if config_file else None
    progress = _Progress(quiet or as_json and not sys.stderr.isatty())
    search = resume_run(run_dir, cfg, force, progress, max_births=max_births, max_seconds=max_seconds)
    if not quiet:
        click.echo(f"zeroevo: resuming {run_dir} at birth {search.state.birth:,}", err=True)
    _report(search.run(), progress, as_json)


def _report(result, progress: _Progress, as_json: bool) -> None:  # noqa: ANN001 - SearchResult
    progress.close()
    if as_json:
        click.echo(json.dumps(result.to_json()))
        return
    click.echo(result.text)
    if not hasattr(result, "select_fitness"):  # a neural search
        click.echo(f"\nbirths {result.births:,}  best birth {result.best_birth}  search validation accuracy "
                   f"{result.best_fitness:.4f}  failed {result.failed}  stopped at hurdles "
                   f"{result.stopped}  wall {result.wall_seconds:.1f} s")
        won = result.to_json()["final"]
        won = won and won["winner"]
        if won:
            click.echo(f"final stage winner (birth {won['birth']}): test accuracy {won['test_accuracy']:.4f}  "
                       f"validation {won['val_accuracy']:.4f}  parameters {won['params']:,}  FLOPs {won['flops']:,}")
        return
    compiled = f"  compile {result.compile_seconds:.1f} s" if result.compile_seconds else ""
    click.echo(f"\nbirths {result.births:,}  restarts {result.restarts}  solved {result.solved}  "
               f"FEC hit rate {result.fec_hit_rate:.1%}  search CPU {result.cpu_seconds:.1f} s  "
               f"wall {result.wall_seconds:.1f} s{compiled}")
    select = ("not selected (no restart finished)" if result.select_fitness is None
              else f"{result.select_fitness:.6f}")
    if result.baselines:
        click.echo("final fitness of hand-written learners on the same tasks: " + "  ".join(
            f"{name} {b['final_fitness']:.6f} (lr {b['lr']:g})" for name, b in result.baselines.items()))
    click.echo(f"fitness: search {result.search_fitness:.6f}  select {select}  "
               f"final {result.final_fitness:.6f}")


@main.command("latency-table")
@click.option("--preset", default="fashion-layers", show_default=True, help="a neural preset: its space and data shape")
@click.option("--archs", type=click.IntRange(min=1), default=30, show_default=True,
              help="random architectures whose layers are timed")
@click.option("--device", default="", help="the target device ('' = CUDA when present, else cpu)")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="the table's JSON file")
@click.option("--seed", type=int, default=0, show_default=True)
def latency_table(preset: str, archs: int, device: str, out: str, seed: int) -> None:
    """Time every distinct layer of random architectures on this device (the target), once.

    A search elsewhere then predicts a candidate's latency on this target by summing its
    layers from the table: `[objectives] cost = "table_latency"`, `latency_table = FILE`.
    """
    import numpy as np
    import torch

    from zeroevo.core.registry import make_space
    from zeroevo.neural.latency import build_table
    from zeroevo.runs.presets import load_preset
    from zeroevo.runs.storage import write_json

    cfg = load_preset(preset)
    if cfg.kind != "neural":
        raise click.UsageError(f"{preset} is not a neural preset")
    space = make_space(cfg.space.name, dict(cfg.space.options))
    shape = {"cifar10": (3, 32, 32), "digits": (1, 8, 8)}.get(cfg.data.dataset, (1, 28, 28))
    rng = np.random.default_rng(seed)
    classes = 10
    models = [space.build(space.random(rng), shape, classes, cfg.fidelity.width) for _ in range(archs)]
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    table = build_table(models, shape, dev, threads=cfg.fidelity.threads)
    write_json(out, table)
    click.echo(f"timed {len(table)} distinct layers of {archs} {cfg.space.name} architectures on {dev}; wrote {out}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="print the report as one JSON object")
def verify(run_dir: str, as_json: bool) -> None:
    """Check a run directory end to end: meta.json and its config hashes, the manifest, every
    closed segment and snapshot against its checksum, the births, the schema. Exit 0 only
    when all of it holds, else 1."""
    from zeroevo.runs.verify import verify as check

    report = check(run_dir)
    if as_json:
        click.echo(json.dumps({"ok": report.ok, "problems": report.problems, "warnings": report.warnings,
                               "snapshot": report.snapshot, "births": report.births}))
    else:
        for line in report.problems:
            click.echo(f"problem: {line}")
        for line in report.warnings:
            click.echo(f"warning: {line}")
        if report.ok:
            snap = report.snapshot["file"] if report.snapshot else "none yet"
            n = len(report.manifest.segments) if report.manifest else 0
            click.echo(f"ok: {run_dir} verifies ({report.births:,} births in {n} closed segments; snapshot {snap})")
    sys.exit(0 if report.ok else 1)


@main.command()
@click.option("--preset", "names", multiple=True, help="a program preset to compile for (repeatable); default demo")
@click.option("--jobs", type=click.IntRange(min=0), default=0, help="processes at once (0: one per core)")
def warmup(names: tuple[str, ...], jobs: int) -> None:
    """Compile the program kernels of presets ahead of time (e.g. right after installing).

    A first run compiles its kernels before its first birth (tens of seconds, once per
    machine and zeroevo version); warmup does it now, one process per preset.
    """
    from zeroevo.programs.warmup import warm_configs
    from zeroevo.runs.presets import load_preset

    configs = [load_preset(name) for name in (names or ("demo",))]
    neural = [c.preset for c in configs if c.kind != "program"]
    if neural:
        raise click.UsageError(f"{', '.join(neural)}: neural presets compile nothing ahead; give program presets")
    t0 = time.time()
    label = ", ".join(c.preset for c in configs)
    click.echo(f"compiling kernels for {label} (once per machine and zeroevo version) ...", err=True)

    def done(k: int, n: int, seconds: float) -> None:
        click.echo(f"  {k} of {n} compiled, {time.time() - t0:.0f} s elapsed", err=True)

    warm_configs([c.to_dict() for c in configs], jobs, done)
    click.echo(f"kernels ready for {label} in {time.time() - t0:.0f} s", err=True)


@main.group(invoke_without_command=True)
@click.pass_context
def presets(ctx: click.Context) -> None:
    """List the presets (``zeroevo presets show NAME`` prints one as TOML)."""
    from zeroevo.runs import presets as presetmod

    if ctx.invoked_subcommand is None:
        for name in presetmod.names():
            click.echo(f"{name:<16} {presetmod.describe(name)}")


@presets.command("show")
@click.argument("name")
def presets_show(name: str) -> None:
    """Print preset NAME as a commented TOML config to start from."""
    from zeroevo.core.config import to_toml
    from zeroevo.runs import presets as presetmod

    cfg = presetmod.load_preset(name)
    click.echo(to_toml(cfg, f"zeroevo preset '{name}': {presetmod.describe(name)}\n"
                                   f"Run it with: zeroevo evolve --config FILE.toml"), nl=False)


from zeroevo.analysis.commands import analyze  # noqa: E402 - the group is defined in its own module

main.add_command(analyze)

if __name__ == "__main__":
    main()
