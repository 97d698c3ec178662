"""How the commands a pipeline run writes (commands.sh) and suggests (the next steps) call `cl2cm`.

`.venv/bin/cl2cm` started by its path, with no `cl2cm` on PATH (as after `make demo`), is spelled by that
path, and commands.sh first puts its folder on PATH, so every command it prints runs as printed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cl2cm.errors import UserError

if TYPE_CHECKING:
    from cl2cm.pipeline.config import PipelineConfig


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
