"""`cl2cm pipeline CONFIG`: every stage from English captions to a served model, one command, resumable."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from cl2cm import interrupts
from cl2cm.artifacts.manifest import recording_command
from cl2cm.cli.app import QuietOpt, app, console
from cl2cm.cli.options import configured
from cl2cm.cli.tables import add_recall_columns, recall_cells
from cl2cm.config.pipeline import PipelineRunConfig
from cl2cm.errors import UserError

if TYPE_CHECKING:
    from cl2cm.pipeline.config import PipelineConfig
    from cl2cm.pipeline.plan import Stage
    from cl2cm.pipeline.run import PipelineResult, Planned


@app.command("pipeline")
@configured
def pipeline_cmd(*, options: PipelineRunConfig, quiet: QuietOpt = False) -> None:
    """Translate, extract features, train the teacher, distil the student and evaluate, from one config.

    Examples:

        cl2cm pipeline --init my.toml

        cl2cm pipeline my.toml --out runs/mine

        cl2cm pipeline my.toml --out runs/mine --dry-run

        cl2cm pipeline my.toml --out runs/mine --redo-from distill

    Each stage writes its own folder under --out (mt/, features/<split>/, teacher/,
    student/, eval/), through the same command a user runs by hand; the commands
    are written to OUT/commands.sh. A killed run resumes where it stopped when
    rerun; a stage whose inputs or options changed is refused unless --redo-from
    names it. docs/pipeline.md explains the config file.
    """
    if options.init:
        from cl2cm.pipeline.template import write_template

        path = options.config or Path("pipeline.toml")
        write_template(path)
        if not quiet:
            console.print(f"wrote {path}: fill in [data] and the models, then: cl2cm pipeline {shlex.quote(str(path))}"
                          f" --out runs/mine", markup=False, highlight=False)
        return
    if options.config is None:
        raise UserError("pipeline: give the config file (or --init to write one)")
    from cl2cm.pipeline.config import load_config

    run_config(load_config(options.config), options.out, redo_from=options.redo_from, dry_run=options.dry_run,
               quiet=quiet)


def run_config(cfg: PipelineConfig, out: Path, *, redo_from: str | None = None, dry_run: bool = False,
               quiet: bool = False, before: list[str] | None = None, title: str = "The pipeline",
               locked: bool = False) -> None:
    """Check every stage's command line, then print the plan and run it (the demo calls this too)."""
    from cl2cm.artifacts.io import check_output_path
    from cl2cm.pipeline.plan import plan
    from cl2cm.pipeline.run import dry_run_script, run_locked, run_pipeline
    from cl2cm.pipeline.shell import next_steps

    check_output_path(out, "--out", directory=True)
    check_commands(cfg, plan(cfg, out))
    if dry_run:
        sys.stdout.write(dry_run_script(cfg, out, redo_from=redo_from, quiet=quiet, before=before, title=title))
        return
    name = title.removeprefix("The ")

    def on_stage(p: Planned, i: int, n: int) -> None:
        state = {"done": " (done, skipped)", "resume": " (resuming)", "redo": " (redoing)"}.get(p.state, "")
        console.rule(f"[bold]{name} {i + 1}/{n}: {p.stage.name}{state}")

    result = (run_locked if locked else run_pipeline)(
        cfg, out, run_stage, redo_from=redo_from, quiet=quiet, before=before, title=title,
        on_plan=None if quiet else lambda planned: console.print(plan_table(planned, out)),
        on_stage=None if quiet else on_stage)
    if quiet:
        return
    if result.results:
        console.print(results_table(result, name))
    if result.report is not None:
        console.print(f"\nreport (open it in a browser): {result.report}", markup=False, highlight=False,
                      soft_wrap=True)
    for line in next_steps(cfg, out):
        console.print(line, highlight=False, soft_wrap=True)


def run_stage(argv: list[str]) -> None:
    """One stage: its command, in this process (torch is imported once)."""
    with recording_command(argv):  # each stage's manifest names its own command, not `cl2cm pipeline`
        rv = app(args=argv, standalone_mode=False, prog_name="cl2cm")
    # the parser turns a stage's Ctrl-C into a returned 130: stop here, never start the next stage on top
    interrupts.check()
    if isinstance(rv, int) and rv:
        raise typer.Exit(rv)


def check_commands(cfg: PipelineConfig, stages: list[Stage]) -> None:
    """Parse every stage's command line now, so a bad option value stops the run before any stage runs."""
    from cl2cm.pipeline.config import key_of_flag

    group: Any = typer.main.get_command(app)
    for stage in stages:
        if stage.builtin:
            continue
        command = stage.argv[0]
        try:
            group.commands[command].make_context(f"cl2cm {command}", list(stage.argv[1:]))
        except Exception as exc:  # the parser's usage errors (whichever click typer brings) say format_message
            if not hasattr(exc, "format_message"):
                raise
            message = " ".join(exc.format_message().split())
            first = re.search(r"--[\w-]+", message)  # the flag the parser names first is the one at fault
            where = (key_of_flag(command, first.group(0)) if first else None) or f"stage {stage.name}"
            raise UserError(f"{where}: {message} (in `cl2cm {command}`)", path=cfg.path) from None


def plan_table(planned: list[Planned], out: Path) -> Table:
    table = Table(title=f"plan ({out})")
    table.add_column("stage", no_wrap=True)
    table.add_column("")
    table.add_column("writes", overflow="fold")
    words = {"done": "[green]done[/]", "resume": "[yellow]resume[/]", "run": "will run", "redo": "[red]redo[/]"}
    for p in planned:
        table.add_row(p.stage.name, words[p.state], str(p.stage.output))
    return table


ROW_NAMES = {"teacher": "teacher (tgt→en)", "student_no_transfer": "no transfer", "student": "CL2CM"}


def results_table(r: PipelineResult, name: str = "pipeline") -> Table:
    """One table: teacher target→English, student without and with transfer (R@1/5/10 both ways, SumR)."""
    table = Table(title=f"cl2cm {name} — test split, {r.seconds:.0f} s (T→V: text→visual, V→T: visual→text)")
    table.add_column("model", no_wrap=True)
    add_recall_columns(table)
    table.add_column("SumR", justify="right")
    for key, row_name in ROW_NAMES.items():
        if key not in r.results:
            continue
        m = r.results[key]
        languages = m["mean"]["languages"] if "mean" in m else []
        for code in [*languages, "mean"] if languages else [None]:  # several languages: a row each + mean
            row = m[code] if code else m
            table.add_row(f"{row_name} {code}" if code else row_name, *recall_cells(row), f"{row['SumR']:.1f}")
    timing = ", ".join(f"{p.stage.name} {p.seconds:.0f}s" for p in r.stages if p.seconds is not None)
    table.caption = (f"Queries: human target-language test captions; the teacher retrieves English captions, "
                     f"the students retrieve images. One seed (--seed): the transfer's gain varies with the seed "
                     f"as much as it differs from zero here; see docs/method.md. Stages: {timing or 'all reused'}. "
                     f"Artifacts: {r.out}/ (results.json, commands.sh, mt/, features/, teacher/, student/, eval/)")
    return table
