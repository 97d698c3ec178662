"""`cl2cm pipeline CONFIG`: every stage from English captions to a served model, one command, resumable."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from cl2cm import interrupts
from cl2cm.artifacts.manifest import recording_command
from cl2cm.cli.app import QuietOpt, app, console
from cl2cm.errors import UserError

if TYPE_CHECKING:
    from cl2cm.pipeline.config import PipelineConfig
    from cl2cm.pipeline.plan import Stage
    from cl2cm.pipeline.run import PipelineResult, Planned


@app.command("pipeline")
def pipeline_cmd(
    config: Annotated[Path | None, typer.Argument(help="The pipeline's TOML config (with --init: the file "
                                                       "to write, default pipeline.toml).",
                                                  show_default=False)] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of every stage's artifact.")
                   ] = Path("runs/pipeline"),
    init: Annotated[bool, typer.Option("--init", help="Write a commented config template and exit.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the equivalent cl2cm commands (those "
                                                            "OUT/commands.sh holds) and exit.")] = False,
    redo_from: Annotated[str | None, typer.Option("--redo-from", help="Redo this stage and every later one "
                                                  "(translate | extract-features | train-teacher | distill | "
                                                  "eval, or one stage of the plan).")] = None,
    quiet: QuietOpt = False,
) -> None:
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
    if init:
        from cl2cm.pipeline.template import write_template

        path = config or Path("pipeline.toml")
        write_template(path)
        if not quiet:
            console.print(f"wrote {path}: fill in [data] and the models, then: cl2cm pipeline {shlex.quote(str(path))}"
                          f" --out runs/mine", markup=False, highlight=False)
        return
    if config is None:
        raise UserError("pipeline: give the config file (or --init to write one)")
    from cl2cm.pipeline.config import load_config

    cfg = load_config(config)
    run_config(cfg, out, redo_from=redo_from, dry_run=dry_run, quiet=quiet)


def run_config(cfg: PipelineConfig, out: Path, *, redo_from: str | None = None, dry_run: bool = False,
               quiet: bool = False, before: list[str] | None = None, title: str = "The pipeline",
               locked: bool = False) -> PipelineResult | None:
    """Check every stage's command line, then print the plan and run it (the demo calls this too)."""
    from cl2cm.artifacts.io import check_output_path
    from cl2cm.pipeline.plan import commands_script, plan
    from cl2cm.pipeline.run import plan_states, run_locked, run_pipeline

    check_output_path(out, "--out", directory=True)
    cfg.off_flags = off_flags()
    check_commands(cfg, plan(cfg, out))
    before = [*path_lines(), *(before or [])]
    if dry_run:
        stages = [p.stage for p in plan_states(cfg, out, redo_from=redo_from, quiet=quiet)]
        sys.stdout.write(commands_script(stages, before, title))
        return None

    def on_plan(planned: list[Planned]) -> None:
        if not quiet:
            console.print(plan_table(planned, out))

    def on_stage(p: Planned, i: int, n: int) -> None:
        if not quiet:
            state = {"done": " (done, skipped)", "resume": " (resuming)", "redo": " (redoing)"}.get(p.state, "")
            console.rule(f"[bold]{title.removeprefix('The ')} {i + 1}/{n}: {p.stage.name}{state}")

    run = run_locked if locked else run_pipeline
    extra = {"title": title} if locked else {}
    result = run(cfg, out, run_stage, redo_from=redo_from, quiet=quiet, on_plan=on_plan, on_stage=on_stage,
                 before=before, **extra)
    if not quiet:
        if result.results:
            console.print(results_table(result, title.removeprefix("The ")))
        if result.report is not None:
            console.print(f"\nreport (open it in a browser): {result.report}", markup=False, highlight=False,
                          soft_wrap=True)
        for line in next_steps(cfg, out):
            console.print(line, highlight=False, soft_wrap=True)
    return result


def run_stage(argv: list[str]) -> None:
    """One stage: its command, in this process (torch is imported once)."""
    with recording_command(argv):  # each stage's manifest names its own command, not `cl2cm pipeline`
        rv = app(args=argv, standalone_mode=False, prog_name="cl2cm")
    # the parser turns a stage's Ctrl-C into a returned 130: stop here, never start the next stage on top
    interrupts.check()
    if isinstance(rv, int) and rv:
        raise typer.Exit(rv)


def off_flags() -> dict[str, str]:
    """{--shared-encoder: --separate-encoders}: every on/off pair of the commands, as they spell it."""
    group: Any = typer.main.get_command(app)
    return {p.opts[0]: p.secondary_opts[0] for c in group.commands.values() for p in c.params
            if getattr(p, "secondary_opts", None) and p.opts}


def check_commands(cfg: PipelineConfig, stages: list[Stage]) -> None:
    """Parse every stage's command line now, so a bad option value stops the run before any stage runs."""
    from cl2cm.pipeline.config import settable_fields

    group: Any = typer.main.get_command(app)
    sections = {"translate": "translate", "extract-features": "extract_features", "train-teacher": "train_teacher",
                "distill": "distill", "eval": "eval"}
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
            flags = {f.flag: k for k, f in settable_fields(sections[command]).items()}
            flags.update({cfg.off_flags.get(f, "--no-" + f[2:]): k for f, k in list(flags.items())})
            first = re.search(r"--[\w-]+", message)  # the flag the parser names first is the one at fault
            key = flags.get(first.group(0)) if first else None
            where = f"[{sections[command]}] {key}" if key else f"stage {stage.name}"
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
    for d in ("T→V", "V→T"):
        for k in ("R@1", "R@5", "R@10"):
            table.add_column(f"{d}\n{k}", justify="right")
    table.add_column("SumR", justify="right")
    for key, row_name in ROW_NAMES.items():
        if key not in r.results:
            continue
        m = r.results[key]
        languages = m["mean"]["languages"] if "mean" in m else []
        for code in [*languages, "mean"] if languages else [None]:  # several languages: a row each + mean
            row = m[code] if code else m
            table.add_row(f"{row_name} {code}" if code else row_name,
                          *(f"{row[d][k]:.1f}" for d in ("t2v", "v2t") for k in ("R@1", "R@5", "R@10")),
                          f"{row['SumR']:.1f}")
    timing = ", ".join(f"{p.stage.name} {p.seconds:.0f}s" for p in r.stages if p.seconds is not None)
    table.caption = (f"Queries: human target-language test captions; the teacher retrieves English captions, "
                     f"the students retrieve images. One seed (--seed): the transfer's gain varies with the seed "
                     f"as much as it differs from zero here; see docs/method.md. Stages: {timing or 'all reused'}. "
                     f"Artifacts: {r.out}/ (results.json, commands.sh, mt/, features/, teacher/, student/, eval/)")
    return table


def launcher() -> str:
    """How to call cl2cm from here: `cl2cm` when that is on PATH, else the path of the one running now."""
    here = Path(sys.argv[0])
    on_path = shutil.which("cl2cm")
    if here.name != "cl2cm" or (on_path and os.path.samefile(on_path, here)):
        return "cl2cm"
    try:
        return str(here.relative_to(Path.cwd())) if here.is_absolute() else str(here)
    except ValueError:
        return str(here)


def path_lines() -> list[str]:
    """commands.sh says `cl2cm ...`: where that is not on PATH, the script first puts this one's folder there."""
    prog = launcher()
    if prog == "cl2cm":
        return []
    return [f'command -v cl2cm >/dev/null || PATH={shlex.quote(str(Path(prog).resolve().parent))}:"$PATH"']


def next_steps(cfg: PipelineConfig, out: Path) -> list[str]:
    """The copyable commands that use the model just built: one search, the search page."""
    prog = launcher()
    split = "test" if "test" in cfg.splits else "train"
    data = cfg.splits[split]
    gallery = ["--model", str(out / "student"), "--features", str(out / "features" / split)]
    query = first_caption(data.target_captions.get(cfg.languages[0])) or f"a query in {cfg.languages[0]}"
    lines = ["", "Try the model (from this folder):",
             f"  {prog} search {shlex.join([*gallery, '--k', '5', query])}",
             f"  {prog} serve {shlex.join([*gallery, *(['--root', str(data.root)] if data.root else [])])}"
             "   # then open http://127.0.0.1:8000/",
             f"  bash {shlex.quote(str(out / 'commands.sh'))}   # every stage's command, to rerun or adapt"]
    if prog != "cl2cm":
        lines.append(f"(`cl2cm` itself is not on PATH here: `source {Path(prog).parent}/activate` puts it there, "
                     "or `pip install -e .` into your own environment)")
    return lines


def first_caption(path: Path | None) -> str | None:
    """The text of the first caption of a file (any caption format), for an example query."""
    if path is None:
        return None
    from cl2cm.artifacts.captions import iter_captions

    try:
        first = next(iter(iter_captions(path)), None)
    except (UserError, OSError):
        return None
    return first.text if first is not None else None
