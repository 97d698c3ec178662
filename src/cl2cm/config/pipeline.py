"""The settings of `cl2cm pipeline`; the stages' own options are in its config file (`cl2cm.pipeline.config`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cl2cm.config import Cli, option


@dataclass
class PipelineRunConfig:
    """Which config file, where to, and how to run it."""

    config: Path | None = option(None, "The pipeline's TOML config (with --init: the file to write, default "
                                 "pipeline.toml).", argument=True, cli=Cli(show_default=False))
    out: Path = option(Path("runs/pipeline"), "Folder of every stage's artifact.", flag="--out", short="-o")
    init: bool = option(False, "Write a commented config template and exit.", flag="--init")
    dry_run: bool = option(False, "Print the equivalent cl2cm commands (those OUT/commands.sh holds) and exit.",
                           flag="--dry-run")
    redo_from: str | None = option(None, "Redo this stage and every later one (translate | extract-features | "
                                   "train-teacher | distill | eval, or one stage of the plan).", flag="--redo-from")
