"""The pipeline's config file: where the data is, which languages and models, and any stage options.

A TOML file (stdlib `tomllib`; `tomli` on Python 3.10). Stage options live in one section per stage
(`[translate]`, `[extract_features]`, `[train_teacher]`, `[distill]`, `[eval]`); their keys are the
fields of the stage's own config dataclass (`TranslateConfig`, `ExtractConfig`, `TrainTeacherConfig`
with its nested `TrainConfig`/`TeacherOptions`/`TextEncoderConfig`, ...), so the set of keys, their types
and their flags are read from the configs themselves and never listed twice. Fields the pipeline sets
from `[data]` (inputs, outputs, resume) and those set once at the top (seed, device) are refused in a
stage section. Every mistake is a `UserError` naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cl2cm.config import leaves
from cl2cm.errors import UserError
from cl2cm.pipeline.split import WholeData

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

SPLITS = ("train", "val", "test")


def _stage_configs() -> dict[str, tuple[str, type]]:
    """Config section -> (command, the stage's config dataclass): imported late, they bring torch."""
    from cl2cm.features.extract import ExtractConfig
    from cl2cm.retrieval.evaluate import EvalConfig
    from cl2cm.train.distill import DistillConfig
    from cl2cm.train.teacher import TrainTeacherConfig
    from cl2cm.translation.runner import TranslateConfig

    return {"translate": ("translate", TranslateConfig), "extract_features": ("extract-features", ExtractConfig),
            "train_teacher": ("train-teacher", TrainTeacherConfig), "distill": ("distill", DistillConfig),
            "eval": ("eval", EvalConfig)}


# Fields the pipeline itself sets for every stage (from [data], the stage layout, or the top level).
_TOP_LEVEL = {"seed", "device"}
_SET_BY_PIPELINE = {
    "translate": {"targets", "fmt", "lang", "images", "shard", "overwrite"},
    "extract_features": {"root", "input_kind", "shard", "overwrite"},
    "train_teacher": {"resume", "fmt"},
    "distill": {"resume", "fmt"},
    "eval": {"query_emb", "gallery_emb", "model", "captions", "features", "gallery_captions", "caption_format",
             "fuse_translation", "out", "ranks", "plot", "save_embeddings"},
}


@dataclass(frozen=True)
class StageField:
    """One settable field of a stage config: its type, default and command-line flag (`off`: its negative)."""

    name: str
    type: Any
    default: Any
    flag: str
    off: str | None = None


def stage_fields(config: type) -> dict[str, StageField]:
    """The settable fields of a config dataclass, nested dataclasses flattened (their fields are flags of
    their own), as the command line has them (`cl2cm.config.leaves`)."""
    return {f.name: StageField(f.name, typing.get_type_hints(owner)[f.name],
                               f.default if f.default is not dataclasses.MISSING else None, f.metadata["flag"],
                               f.metadata["off"]) for owner, f in leaves(config)}


def settable_fields(section: str) -> dict[str, StageField]:
    """The keys a `[section]` of the config may set."""
    _, config = _stage_configs()[section]
    owned = _SET_BY_PIPELINE[section] | _TOP_LEVEL
    return {k: v for k, v in stage_fields(config).items() if k not in owned}


def key_of_flag(command: str, flag: str) -> str | None:
    """The `[section] key` of the config file that gives `command` its `flag` (None: the pipeline does)."""
    section = next(s for s, (name, _) in _stage_configs().items() if name == command)
    for key, f in settable_fields(section).items():
        if flag in (f.flag, f.off or "--no-" + f.flag.removeprefix("--")):
            return f"[{section}] {key}"
    return None


def _type_ok(kind: Any, value: Any) -> bool:
    """Whether a TOML value fits a field annotation (bool is not an int, an int is a float, a path a string)."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(k, value) for k in typing.get_args(kind) if k is not type(None))
    if origin in (list, tuple, Sequence) or kind in (list, tuple):
        args = typing.get_args(kind)
        return isinstance(value, list) and all(_type_ok(args[0], v) for v in value) if args else isinstance(value, list)
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in (str, Path):
        return isinstance(value, str)
    return False


def _type_name(kind: Any) -> str:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(k) for k in typing.get_args(kind) if k is not type(None))
    if origin in (list, tuple, Sequence):
        return f"a list of {_type_name(typing.get_args(kind)[0])}"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            Path: "a path (string)"}.get(kind, str(kind))


@dataclass
class SplitData:
    """One split: its image list (or folder), the folder its names are relative to, its captions."""

    images: Path
    root: Path | None = None
    captions: Path | None = None  # English
    target_captions: dict[str, Path] = field(default_factory=dict)  # human target-language captions


@dataclass
class PipelineConfig:
    """A parsed, checked config file (paths resolved against the file's folder, as typed)."""

    path: Path
    languages: list[str]
    splits: dict[str, SplitData]
    stages: dict[str, dict[str, Any]]  # section -> {field: value}, in file order
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    no_transfer_baseline: bool = False
    evaluate_teacher: bool = True
    text: str = ""  # the file's bytes as text (recorded with the run)
    whole: WholeData | None = None  # one folder split by seeded fractions (then `splits` is filled by `plan`)

    def option(self, section: str, name: str, default: Any = None) -> Any:
        return self.stages.get(section, {}).get(name, default)


_TOP_KEYS: dict[str, Any] = {"languages": list[str], "seed": int, "device": str, "threads": int,
                             "no_transfer_baseline": bool, "evaluate_teacher": bool}
_SPLIT_KEYS: dict[str, Any] = {"images": str, "root": str, "captions": str, "target_captions": dict}


class _Reader:
    """Checks one file's keys, naming `path: key` in every error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.parent

    def fail(self, key: str, message: str) -> UserError:
        return UserError(f"{key}: {message}", path=self.path)

    def typed(self, key: str, value: Any, kind: Any) -> Any:
        ok = isinstance(value, dict) if kind is dict else _type_ok(kind, value)
        if not ok:
            shown = "a table" if kind is dict else _type_name(kind)
            raise self.fail(key, f"expected {shown}, got {value!r}")
        return value

    def local(self, value: Any) -> Any:
        """A stage option naming a file or folder beside the config is that path (models are often both a
        hub name and a folder: a relative name is a path when it exists there)."""
        if isinstance(value, str) and value and not Path(value).is_absolute() and (self.base / value).exists():
            return str(self.base / value)
        return value

    def file(self, key: str, value: Any, *, directory: bool | None = False) -> Path:
        p = Path(self.typed(key, value, str)).expanduser()
        p = p if p.is_absolute() else self.base / p
        if not p.exists():
            raise self.fail(key, f"{p} does not exist")
        if directory is True and not p.is_dir():
            raise self.fail(key, f"{p} is not a folder")
        if directory is False and not p.is_file():
            raise self.fail(key, f"{p} is not a file")
        return p


def load_config(path: str | Path) -> PipelineConfig:
    """Read and check a pipeline config; a mistake is one UserError naming the file and the key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is not part of the TOML
    except FileNotFoundError:
        raise UserError("no such config file (write a template with `cl2cm pipeline --init FILE`)",
                        path=path) from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise UserError(f"not a UTF-8 text file ({type(exc).__name__})", path=path) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"not valid TOML: {exc}", path=path) from None
    return parse_config(raw, path, text)


def parse_config(raw: dict[str, Any], path: Path, text: str = "") -> PipelineConfig:
    r = _Reader(path)
    sections = _stage_configs()
    for key in raw:
        if key not in _TOP_KEYS and key != "data" and key not in sections:
            raise r.fail(key, f"unknown key (top level: {', '.join([*_TOP_KEYS, 'data', *sections])})")
    top = {k: r.typed(k, raw[k], kind) for k, kind in _TOP_KEYS.items() if k in raw}
    languages = top.get("languages")
    if not languages:
        raise r.fail("languages", "missing: the target languages, e.g. languages = [\"de\", \"fr\"]")
    if len(set(languages)) != len(languages):
        raise r.fail("languages", f"{languages}: give each language once")
    for lang in languages:
        if not lang or not lang.replace("-", "").replace("_", "").isalnum():
            raise r.fail("languages", f"{lang!r} is not a language code")
    if "device" in top and top["device"] not in ("auto", "cpu", "cuda") and not top["device"].startswith("cuda:"):
        raise r.fail("device", f"{top['device']!r}: expected auto, cpu or cuda")
    if top.get("threads", 0) < 0 or top.get("seed", 0) < 0:
        bad = "threads" if top.get("threads", 0) < 0 else "seed"
        raise r.fail(bad, "must be >= 0")
    data = r.typed("data", raw.get("data", {}), dict)
    whole = _read_whole(r, data, languages) if set(data) & set(_WHOLE_KEYS) else None
    splits = {} if whole is not None else _read_data(r, data, languages)
    stages: dict[str, dict[str, Any]] = {}
    for section in sections:
        values = r.typed(section, raw.get(section, {}), dict)
        allowed = settable_fields(section)
        all_fields = stage_fields(sections[section][1])
        stages[section] = {}
        for key, value in values.items():
            where = f"[{section}] {key}"
            if key in allowed:
                if section == "translate" and key == "model" and isinstance(value, dict):
                    stages[section][key] = _model_per_language(r, where, value, languages)
                    continue
                stages[section][key] = r.local(r.typed(where, value, allowed[key].type))
            elif key in _TOP_LEVEL and key in all_fields:
                raise r.fail(where, f"set once at the top of the file ({key} = ...), for every stage")
            elif key in all_fields:
                raise r.fail(where, "set by the pipeline (from [data] and its own layout under --out)")
            else:
                raise r.fail(where, f"unknown key (cl2cm {sections[section][0]} has no field {key!r})")
    if "model" not in stages["translate"]:
        raise r.fail("[translate] model", "missing: the translation model (one for every language, or a table "
                     "language = model)")
    _check_lexicon_languages(r, stages["translate"], languages)
    _check_named_pairs(r, stages["translate"], languages)
    return PipelineConfig(path=path, languages=list(languages), splits=splits, stages=stages, text=text,
                          whole=whole, **{k: v for k, v in top.items() if k != "languages"})


def _model_per_language(r: _Reader, where: str, table: dict[str, Any], languages: list[str]) -> dict[str, str]:
    for lang in languages:
        if lang not in table:
            raise r.fail(where, f"no translation model for language {lang!r}")
    for lang, model in table.items():
        if lang not in languages:
            raise r.fail(f"{where}.{lang}", f"not one of languages = {languages}")
        table[lang] = r.local(r.typed(f"{where}.{lang}", model, str))
    return dict(table)


def _check_named_pairs(r: _Reader, options: dict[str, Any], languages: list[str]) -> None:
    """A single-pair model says its pair in its name (opus-mt-en-de): another language is known to fail."""
    if options.get("backend", "hf") not in ("hf", "ct2"):
        return
    from cl2cm.translation.hf import named_pair

    model = options["model"]
    for lang in languages:
        name = model if isinstance(model, str) else model[lang]
        pair = named_pair(name)
        if pair is not None and pair[1] != lang:
            raise r.fail("[translate] model", f"no translation model for language {lang!r}: {name} translates "
                         f"{pair[0]}→{pair[1]} only (give a table, e.g. model = {{ {lang} = \"...\" }})")


def _check_lexicon_languages(r: _Reader, options: dict[str, Any], languages: list[str]) -> None:
    """The lexicon backend reads a local file: a language it lacks is known before anything runs."""
    if options.get("backend") != "lexicon" or not isinstance(options.get("model"), str):
        return
    import json

    given = Path(options["model"])  # `local` has already joined a file beside the config to the config's folder
    lexicon = given if given.is_file() else r.file("[translate] model", options["model"])
    try:
        have = json.loads(lexicon.read_text(encoding="utf-8")).get("languages", [])
    except (ValueError, AttributeError, UnicodeDecodeError):
        raise r.fail("[translate] model", f"{lexicon} is not a lexicon JSON file") from None
    for lang in languages:
        if lang not in have:
            raise r.fail("[translate] model", f"no translation model for language {lang!r}: the lexicon "
                         f"{lexicon} has {', '.join(have) or 'none'}")
    options["model"] = str(lexicon)


_WHOLE_KEYS: dict[str, Any] = {"images": str, "captions": str, "target_captions": dict, "val_fraction": float,
                               "test_fraction": float}


def _read_whole(r: _Reader, data: dict[str, Any], languages: list[str]) -> WholeData:
    """`[data]` with one image folder and one caption file, split by seeded fractions."""
    for key in data:
        if key not in _WHOLE_KEYS:
            raise r.fail(f"[data] {key}", f"unknown key with [data] images (one folder split by fractions: "
                         f"{', '.join(_WHOLE_KEYS)})" if key not in SPLITS else
                         "give either [data.train] (and val, test) or [data] images with fractions, not both")
    for key in ("images", "captions"):
        if key not in data:
            raise r.fail(f"[data] {key}", "missing: the image folder and the English captions of all its images")
    fractions = {k: float(r.typed(f"[data] {k}", data.get(k, 0.0), float)) for k in ("val_fraction", "test_fraction")}
    for k, v in fractions.items():
        if not 0 <= v < 1:
            raise r.fail(f"[data] {k}", f"{v}: must be >= 0 and < 1")
    if sum(fractions.values()) >= 1:
        raise r.fail("[data] val_fraction", "val_fraction + test_fraction must be < 1 (training needs images)")
    gold = {}
    for lang, file in r.typed("[data] target_captions", data.get("target_captions", {}), dict).items():
        if lang not in languages:
            raise r.fail(f"[data] target_captions.{lang}", f"not one of languages = {languages}")
        gold[lang] = r.file(f"[data] target_captions.{lang}", file)
    return WholeData(root=r.file("[data] images", data["images"], directory=True),
                     captions=r.file("[data] captions", data["captions"]), target_captions=gold, **fractions)


def _read_data(r: _Reader, data: dict[str, Any], languages: list[str]) -> dict[str, SplitData]:
    for key in data:
        if key not in SPLITS:
            raise r.fail(f"[data] {key}", f"unknown key (expected the splits {', '.join(SPLITS)})")
    if "train" not in data:
        raise r.fail("[data] train", "missing: the training images and their English captions")
    splits: dict[str, SplitData] = {}
    for split in SPLITS:
        if split not in data:
            continue
        table = r.typed(f"[data.{split}]", data[split], dict)
        for key in table:
            if key not in _SPLIT_KEYS:
                raise r.fail(f"[data.{split}] {key}", f"unknown key (expected {', '.join(_SPLIT_KEYS)})")
        if "images" not in table:
            raise r.fail(f"[data.{split}] images", "missing: an image list (names relative to root) or a folder")
        images = r.file(f"[data.{split}] images", table["images"], directory=None)
        root = r.file(f"[data.{split}] root", table["root"], directory=True) if "root" in table else None
        captions = r.file(f"[data.{split}] captions", table["captions"]) if "captions" in table else None
        if split == "train" and captions is None:
            raise r.fail("[data.train] captions", "missing: the English captions to translate and train on")
        targets = r.typed(f"[data.{split}] target_captions", table.get("target_captions", {}), dict)
        gold = {}
        for lang, file in targets.items():
            if lang not in languages:
                raise r.fail(f"[data.{split}] target_captions.{lang}", f"not one of languages = {languages}")
            gold[lang] = r.file(f"[data.{split}] target_captions.{lang}", file)
        splits[split] = SplitData(images=images, root=root, captions=captions, target_captions=gold)
    return splits
