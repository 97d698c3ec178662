"""Run (or resume) the pipeline's stages through the `cl2cm` commands, refusing a stage whose inputs changed.

Each stage is a real command line handed to `run_cli` (the CLI runs it in-process), so the pipeline adds no
second implementation of any stage. Before a stage starts, `pipeline-state.json` records its command and
the sha256 of what it reads (the user's files and the manifests of the stages before it). On a rerun:

- a stage whose artifact is complete and whose record matches is `done` (skipped);
- one that was started and matches is resumed (translate and extract-features from their committed
  chunks, training with `--resume` from its last checkpoint);
- one whose command or inputs differ from its record is refused, naming the stage, unless the user asks to
  redo from it (`redo_from`): that stage and every later one are removed and run afresh.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cl2cm.artifacts.io import atomic_write_json, atomic_write_text, sha256_file
from cl2cm.artifacts.lock import output_lock
from cl2cm.errors import UserError
from cl2cm.pipeline.config import PipelineConfig
from cl2cm.pipeline.plan import RESULT_KEYS, Stage, commands_script, plan
from cl2cm.pipeline.report import REPORT_FILE, write_report
from cl2cm.pipeline.split import write_splits

STATE_FILE = "pipeline-state.json"
RESULTS_FILE = "results.json"
_NOT_COMPARED = ("--quiet",)
GROUPS = ("split", "translate", "extract-features", "train-teacher", "distill", "eval")  # what --redo-from names  # how much a stage prints is not what it makes


@dataclass
class Planned:
    """A stage and what this run does with it: done | resume | run | redo."""

    stage: Stage
    state: str
    seconds: float | None = None


@dataclass
class PipelineResult:
    out: Path
    stages: list[Planned]
    results: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    report: Path | None = None  # OUT/report.html (an evaluated run)


def stage_names(stages: list[Stage]) -> list[str]:
    return [s.name for s in stages]


def _redo_index(stages: list[Stage], redo_from: str | None) -> int | None:
    """The first stage `redo_from` names: a stage (distill-no-transfer) or a group (extract-features, eval)."""
    if redo_from is None:
        return None
    for i, s in enumerate(stages):
        if s.name == redo_from or s.name.startswith(redo_from + "-"):
            return i
    groups = dict.fromkeys(next((g for g in GROUPS if n == g or n.startswith(g + "-")), n) for n in stage_names(stages))
    raise UserError(f"--redo-from {redo_from!r}: expected one of {', '.join(groups)} "
                    f"(or a single stage: {', '.join(stage_names(stages))})")


def _compared(argv: list[str]) -> list[str]:
    return [a for a in argv if a not in _NOT_COMPARED]


def _fingerprints(paths: list[Path]) -> dict[str, str | None]:
    return {str(p): sha256_file(p) if p.is_file() else None for p in paths}


def read_state(out: Path) -> dict[str, Any]:
    path = out / STATE_FILE
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        stages = state["stages"]
        if not isinstance(stages, dict) or not all(isinstance(r, dict) for r in stages.values()):
            raise TypeError
        return stages
    except (ValueError, KeyError, TypeError):
        raise UserError("is not a pipeline state file (delete it to start the run afresh)", path=path) from None


def _real(arg: str, cwd: str, out: str | None = None) -> str:
    """An argument that names an existing file or folder (a relative one under `cwd`) as its real path. One
    inside the run's own folder `out` (a real path) reads `<OUT>/...`, whether or not it is still there: a
    run folder renamed or moved since is the same run. Values (no `/`, nothing there) stay as written."""
    if not arg:
        return arg
    path = os.path.join(cwd, arg)
    there = os.path.exists(path)
    real = os.path.realpath(path) if there else os.path.normpath(path)
    if out is not None and (there or os.sep in arg) and (real == out or real.startswith(out + os.sep)):
        return "<OUT>" + real[len(out):]
    return real if there else arg


def _differing(old: list[str], old_cwd: str, new: list[str], old_out: str | None = None,
               new_out: str | None = None) -> tuple[list[str], list[str]]:
    """The arguments of a recorded command (run from `old_cwd`) and of the planned one (run from here) that
    differ. A path is the same option however it is spelled: `/abs/run/mt` recorded by one run and `run/mt`
    planned by the next, or `runs/x` recorded from the project folder and `../runs/x` planned from a folder
    below it; a path inside the run's folder is compared relative to it (`old_out` then, `new_out` now), so
    a run folder renamed or moved is unchanged. Anything else (values, paths not there) compares as written,
    so a moved project whose relative spellings are unchanged is unchanged too."""
    here = os.getcwd()
    if len(old) != len(new):
        return [a for a in old if a not in new], [a for a in new if a not in old]
    pairs = [(a, b) for a, b in zip(old, new, strict=True)
             if a != b and _real(a, old_cwd, old_out) != _real(b, here, new_out)]
    return [a for a, _ in pairs], [b for _, b in pairs]


def _changed(stage: Stage, record: dict[str, Any], out: Path | None = None) -> str | None:
    """What differs between a stage's record and what it would run now, in words (None: nothing)."""
    recorded = record.get("argv")
    cwd = record.get("cwd")
    old = recorded if isinstance(recorded, list) and all(isinstance(a, str) for a in recorded) else None
    was = record.get("out")
    gone, added = _differing(old or [], cwd if isinstance(cwd, str) else os.getcwd(), _compared(stage.argv),
                             was if isinstance(was, str) and out is not None else None,
                             os.path.realpath(out) if out is not None else None)
    if old is None or gone or added:
        detail = "; ".join(x for x in (f"was {' '.join(gone[:4])}" if gone else "",
                                        f"now {' '.join(added[:4])}" if added else "") if x)
        return f"other options ({detail or 'their order'})"
    inputs = record.get("inputs")
    shas = list(inputs.values()) if isinstance(inputs, dict) else []
    # the same command reads the same files: compare their digests now, as the planned command spells them
    now = list(_fingerprints(stage.inputs).items())
    differ = [p for (p, sha), old_sha in zip(now, shas, strict=False) if sha != old_sha]
    if differ or len(now) != len(shas):
        return f"other inputs ({differ[0] if differ else 'their number'} changed since)"
    return None


def plan_states(cfg: PipelineConfig, out: Path, *, redo_from: str | None = None, quiet: bool = False
                ) -> list[Planned]:
    """The plan: each stage and whether it is done, resumed, run, or redone; a changed stage is refused."""
    stages = plan(cfg, out, quiet=quiet)
    redo = _redo_index(stages, redo_from)
    records = read_state(out)
    planned = []
    for i, stage in enumerate(stages):
        record = records.get(stage.name)
        started = record is not None or stage.output.exists()
        if redo is not None and i >= redo:
            planned.append(Planned(stage, "redo" if started else "run"))
            continue
        if record is not None:
            why = _changed(stage, record, out)
            if why:
                raise UserError(f"stage {stage.name} was made from {why}: rerun with --redo-from {stage.name} to "
                                "redo it and every stage after it, or choose another --out", path=out)
        if stage.done.exists():
            planned.append(Planned(stage, "done"))
        else:
            planned.append(Planned(stage, "resume" if started else "run"))
    return planned


def dry_run_script(cfg: PipelineConfig, out: Path, *, redo_from: str | None = None, quiet: bool = False,
            before: list[str] | None = None, title: str = "The pipeline") -> str:
    """The commands.sh the run would write now (what `--dry-run` prints); nothing runs, nothing is written."""
    stages = [p.stage for p in plan_states(cfg, out, redo_from=redo_from, quiet=quiet)]
    return commands_script(stages, before, title, cfg.threads)


def run_pipeline(cfg: PipelineConfig, out: Path, run_cli: Callable[[list[str]], None], *,
                 redo_from: str | None = None, quiet: bool = False,
                 on_plan: Callable[[list[Planned]], None] | None = None,
                 on_stage: Callable[[Planned, int, int], None] | None = None,
                 before: list[str] | None = None, title: str = "The pipeline") -> PipelineResult:
    """Plan, then run every stage that is not done; gather the eval JSONs into results.json."""
    with output_lock(out):
        return run_locked(cfg, out, run_cli, redo_from=redo_from, quiet=quiet, on_plan=on_plan,
                          on_stage=on_stage, before=before, title=title)


def run_locked(cfg: PipelineConfig, out: Path, run_cli: Callable[[list[str]], None], *,
               redo_from: str | None = None, quiet: bool = False,
               on_plan: Callable[[list[Planned]], None] | None = None,
               on_stage: Callable[[Planned, int, int], None] | None = None,
               before: list[str] | None = None, title: str = "The pipeline") -> PipelineResult:
    """`run_pipeline` for a caller that already holds OUT's lock (the demo)."""
    t0 = time.perf_counter()
    planned = plan_states(cfg, out, redo_from=redo_from, quiet=quiet)
    if on_plan:
        on_plan(planned)
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    records = read_state(out)
    for p in planned:
        if p.state == "redo":  # removed first, so a kill from here on resumes without --redo-from
            if p.stage.output.is_dir():
                shutil.rmtree(p.stage.output)
            else:
                p.stage.output.unlink(missing_ok=True)
            records.pop(p.stage.name, None)
        elif p.stage.name in records:  # a record from before folders were recorded matched from here
            records[p.stage.name].setdefault("cwd", os.getcwd())
            records[p.stage.name].setdefault("out", os.path.realpath(out))
    _write_state(out, cfg, records)
    atomic_write_text(out / "commands.sh", commands_script([p.stage for p in planned], before, title, cfg.threads),
                      executable=True)
    for i, p in enumerate(planned):
        if on_stage:
            on_stage(p, i, len(planned))
        if p.state == "done":
            continue
        stage = p.stage
        records[stage.name] = {"argv": _compared(stage.argv), "inputs": _fingerprints(stage.inputs),
                               "cwd": os.getcwd(), "out": os.path.realpath(out)}
        _write_state(out, cfg, records)
        if stage.builtin:  # the seeded split
            t = time.perf_counter()
            assert cfg.whole is not None
            write_splits(cfg.whole, out, cfg.seed, cfg.languages)
            p.seconds = time.perf_counter() - t
            continue
        argv = list(stage.argv)
        if stage.resumable_training and (stage.output / "checkpoints" / "last.safetensors").exists():
            argv.append("--resume")
        t = time.perf_counter()
        run_cli(argv)
        p.seconds = time.perf_counter() - t
    results = gather_results(out)
    report = None
    if results:
        atomic_write_json(out / RESULTS_FILE, results)
        report = out / REPORT_FILE
        if not report.exists() or any(p.state != "done" for p in planned):
            report = write_report(cfg, out, results)
    return PipelineResult(out=out, stages=planned, results=results, seconds=time.perf_counter() - t0, report=report)


def gather_results(out: Path) -> dict[str, Any]:
    """{teacher, student_no_transfer, student: eval JSON} for the models that were evaluated."""
    return {key: json.loads((out / "eval" / f"{key}.json").read_text(encoding="utf-8"))
            for key in RESULT_KEYS if (out / "eval" / f"{key}.json").exists()}


def _write_state(out: Path, cfg: PipelineConfig, records: dict[str, Any]) -> None:
    atomic_write_json(out / STATE_FILE, {"config": str(cfg.path), "stages": records})
