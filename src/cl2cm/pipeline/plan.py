"""The pipeline's stages as `cl2cm` command lines, each writing its own artifact under one `--out`.

translate → extract-features (every split) → train-teacher → distill (and the no-transfer baseline) →
eval (where target-language test captions exist). The layout under OUT:

    mt/ (or mt-<lang>/ with a model per language)   features/<split>/   teacher/   student/
    student-no-transfer/   eval/<model>.json   results.json   commands.sh   pipeline-state.json
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cl2cm.artifacts.manifest import MANIFEST_NAME
from cl2cm.pipeline.config import PipelineConfig, SplitData, settable_fields
from cl2cm.pipeline.shell import path_lines

RESULT_KEYS = ("teacher", "student_no_transfer", "student")


@dataclass
class Stage:
    """One command, what proves it finished (`done`), and the user files it reads (for change detection)."""

    name: str  # what --redo-from names: translate, extract-features-train, train-teacher, distill, eval-student
    argv: list[str]
    done: Path
    output: Path  # what --redo-from removes
    inputs: list[Path] = field(default_factory=list)
    resumable_training: bool = False
    builtin: bool = False  # done by the pipeline itself (the seeded split), not by a cl2cm command

    @property
    def command(self) -> str:
        """The command line for commands.sh (how much it prints is the user's choice there)."""
        if self.builtin:
            return (f"# {self.name}: `cl2cm pipeline` writes {self.output}/ itself, before the commands below "
                    f"({shlex.join(self.argv[1:])})")
        return "cl2cm " + shlex.join(a for a in self.argv if a != "--quiet")


def repeat(flag: str, values: list[str]) -> list[str]:
    """`--flag a --flag b`: a repeatable option once per value."""
    return [x for v in values for x in (flag, v)]


def option_flags(cfg: PipelineConfig, section: str) -> list[str]:
    """The section's options as flags, in file order (a bool: its flag, or `--no-` form when turned off)."""
    fields = settable_fields(section)
    out: list[str] = []
    for key, value in cfg.stages.get(section, {}).items():
        f = fields[key]
        if isinstance(value, bool):
            if value == bool(f.default):
                continue
            out.append(f.flag if value else f.off or "--no-" + f.flag.removeprefix("--"))
        elif isinstance(value, list):
            out += repeat(f.flag, [str(v) for v in value])
        elif isinstance(value, dict):  # translate's model per language: each language's stage picks its own
            continue
        else:
            out += [f.flag, str(value)]
    return out


def _common(cfg: PipelineConfig, quiet: bool) -> list[str]:
    return ["--device", cfg.device, "--seed", str(cfg.seed)] + (["--quiet"] if quiet else [])


def translation_groups(cfg: PipelineConfig) -> list[tuple[str, list[str], str]]:
    """(output folder name, languages, model): one translate run per model."""
    model: Any = cfg.stages["translate"]["model"]
    if isinstance(model, str):
        return [("mt", list(cfg.languages), model)]
    groups: dict[str, list[str]] = {}
    for lang in cfg.languages:
        groups.setdefault(model[lang], []).append(lang)
    return [(f"mt-{'-'.join(langs)}", langs, m) for m, langs in groups.items()]


def plan(cfg: PipelineConfig, out: Path, *, quiet: bool = False) -> list[Stage]:
    """Every stage of the run, in order."""
    common = _common(cfg, quiet)
    stages: list[Stage] = []
    if cfg.whole is not None:
        stages.append(_split_stage(cfg, out))
    train = cfg.splits["train"]
    assert train.captions is not None  # checked by the config reader
    mt: dict[str, str] = {}
    translate_flags = option_flags(cfg, "translate")
    for folder, langs, model in translation_groups(cfg):
        name = "translate" if folder == "mt" else f"translate-{'-'.join(langs)}"
        argv = ["translate", str(train.captions), *repeat("--to", langs), *_model_flags(translate_flags, model),
                "--out", str(out / folder), *common]
        stages.append(Stage(name, argv, out / folder / MANIFEST_NAME, out / folder, inputs=[train.captions]))
        mt.update({lang: str(out / folder / f"{lang}.jsonl") for lang in langs})
    tgt = [mt[lang] for lang in cfg.languages]
    extract_flags = option_flags(cfg, "extract_features")
    for split, data in cfg.splits.items():
        argv = ["extract-features", str(data.images), *(["--root", str(data.root)] if data.root else []),
                *extract_flags, "--out", str(out / "features" / split), *common]
        inputs = [data.images] if data.images.is_file() else []
        stages.append(Stage(f"extract-features-{split}", argv, out / "features" / split / MANIFEST_NAME,
                            out / "features" / split, inputs=inputs))
    val = cfg.splits.get("val")
    val_gold = [str(val.target_captions[lang]) for lang in cfg.languages] if val and _has_gold(cfg, "val") else []
    teacher_val: list[str] = []
    if val_gold and val is not None and val.captions is not None:
        teacher_val = ["--val-src", str(val.captions), *repeat("--val-tgt", val_gold)]
    teacher = out / "teacher"
    stages.append(Stage(
        "train-teacher", ["train-teacher", "--src", str(train.captions), *repeat("--tgt", tgt), *teacher_val,
                          *option_flags(cfg, "train_teacher"), "--out", str(teacher), *common],
        teacher / MANIFEST_NAME, teacher, inputs=_files(train.captions, val, "val", cfg) + _stage_inputs(stages),
        resumable_training=True))
    student_val = (["--val-features", str(out / "features" / "val"), *repeat("--val-captions", val_gold)]
                   if val_gold else [])
    distill_flags = option_flags(cfg, "distill")
    students = [("student", [])] + ([("student_no_transfer", ["--no-transfer"])] if cfg.no_transfer_baseline else [])
    for key, extra in students:
        d = out / key.replace("_", "-")
        stages.append(Stage(
            "distill" + ("-no-transfer" if extra else ""),
            ["distill", "--teacher", str(teacher), "--features", str(out / "features" / "train"), "--src",
             str(train.captions), *repeat("--tgt", tgt), *student_val, *distill_flags, *extra, "--out", str(d),
             *common],
            d / MANIFEST_NAME, d, inputs=_files(train.captions, val, "val", cfg) + [teacher / MANIFEST_NAME]
            + [s.done for s in stages if s.name.startswith(("extract-features-train", "extract-features-val"))],
            resumable_training=True))
    if _evaluated(cfg):
        test = cfg.splits["test"]
        captions = repeat("--captions", [str(test.target_captions[lang]) for lang in cfg.languages])
        eval_flags = option_flags(cfg, "eval")
        models = ([("teacher", ["--gallery-captions", str(test.captions)])]
                  if cfg.evaluate_teacher and test.captions is not None else [])
        models += [(key, ["--features", str(out / "features" / "test")]) for key in RESULT_KEYS[1:]
                   if key in dict(students)]
        for key, source in models:
            model_dir = out / key.replace("_", "-")
            path = out / "eval" / f"{key}.json"
            inputs = [*test.target_captions.values(), model_dir / MANIFEST_NAME]
            if key == "teacher" and test.captions is not None:
                inputs.append(test.captions)
            else:
                inputs.append(out / "features" / "test" / MANIFEST_NAME)
            stages.append(Stage(f"eval-{key.replace('_', '-')}",
                                ["eval", "--model", str(model_dir), *captions, *source, *eval_flags, "--out",
                                 str(path), *common], path, path, inputs=inputs))
    return stages


def _split_stage(cfg: PipelineConfig, out: Path) -> Stage:
    """`[data] images` with fractions: OUT/splits/ written first (by the pipeline itself, not a command)."""
    from cl2cm.pipeline.split import SPLIT_DIR, split_files

    whole = cfg.whole
    assert whole is not None
    gold = all(lang in whole.target_captions for lang in cfg.languages)
    for split in ("train", "val", "test"):
        files = split_files(out, split, cfg.languages, split != "train" and gold)
        cfg.splits[split] = SplitData(images=files["images"], root=whole.root, captions=files["captions"],
                                      target_captions={lang: files[lang] for lang in cfg.languages if lang in files})
    argv = ["split", str(whole.captions), "--val-fraction", str(whole.val_fraction), "--test-fraction",
            str(whole.test_fraction), "--seed", str(cfg.seed), *(f"{k}={v}" for k, v in whole.target_captions.items())]
    return Stage("split", argv, out / SPLIT_DIR / "test_images.txt", out / SPLIT_DIR,
                 inputs=[whole.captions, *whole.target_captions.values()], builtin=True)


def _model_flags(flags: list[str], model: str) -> list[str]:
    """translate's options with the group's model (a per-language table is not a flag of its own)."""
    return ["--model", model, *flags] if "--model" not in flags else flags


def _has_gold(cfg: PipelineConfig, split: str) -> bool:
    data = cfg.splits.get(split)
    return data is not None and all(lang in data.target_captions for lang in cfg.languages)


def _evaluated(cfg: PipelineConfig) -> bool:
    """eval runs where every target language has human test captions."""
    return _has_gold(cfg, "test")


def _files(captions: Path, val: Any, split: str, cfg: PipelineConfig) -> list[Path]:
    out = [captions]
    if val is not None and _has_gold(cfg, split):
        out += [p for p in (val.captions, *val.target_captions.values()) if p is not None]
    return out


def _stage_inputs(stages: list[Stage]) -> list[Path]:
    """The manifests of the translations a training stage reads."""
    return [s.done for s in stages if s.name.startswith("translate")]


def commands_script(stages: list[Stage], before: list[str] | None = None, title: str = "The pipeline",
                    threads: int = 0) -> str:
    """`commands.sh`: the stages as a script a user can run, edit, or move to a cluster (`before`: commands
    that run first, e.g. the demo's world; `cl2cm` put on PATH first where it is not). A run with `threads`
    set exports it as OMP_NUM_THREADS (torch's default thread count), so the script's float sums are made
    the way the run's were: the stage commands have no --threads of their own."""
    pin = [f"export OMP_NUM_THREADS={threads}  # the run's threads (pipeline.toml: threads)"] if threads else []
    lines = ["#!/usr/bin/env bash", f"# {title}'s commands, in order (run from the folder it was started in).",
             "set -e", *path_lines(), *pin, *(before or []), *(s.command for s in stages)]
    return "\n".join(lines) + "\n"
