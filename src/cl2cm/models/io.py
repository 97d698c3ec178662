"""Model directories: model.safetensors + config.json + tokenizer files + manifest.json (written last).

A model directory is self-contained: config.json holds our config *and* the backbone's HF config dict, so
`load_model` rebuilds the network offline (`from_config`) and fills every weight from model.safetensors.
Which class loads a directory is decided by the manifest's kind through `MODEL_KINDS`, a registry of lazy
import strings (so loading a teacher never imports the student's code and vice versa).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cl2cm.artifacts.checksum import check_file
from cl2cm.artifacts.io import atomic_write_json
from cl2cm.artifacts.manifest import Manifest, read_manifest, remove_manifest, write_manifest
from cl2cm.artifacts.store import first_nonfinite, load_safetensors, save_safetensors
from cl2cm.errors import UserError
from cl2cm.registry import resolve

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"

# kind -> "module:Class"; each class has `from_dir(directory, device) -> nn.Module` with `encode_text`.
MODEL_KINDS: dict[str, str] = {
    "teacher": "cl2cm.models.teacher:CrossLingualTeacher",
    "student": "cl2cm.models.student:Student",
}


# Models named by a "scheme:SPEC" string instead of a directory (no manifest): scheme → "module:Class" with
# `from_spec(spec, device)`.
MODEL_SCHEMES: dict[str, str] = {
    "openclip": "cl2cm.models.openclip:OpenClipModel",
}


def model_scheme(name: str | Path) -> str | None:
    """The registered scheme of "scheme:SPEC" (e.g. "openclip:ViT-B-32@openai"), else None (a directory)."""
    scheme, colon, _ = str(name).partition(":")
    return scheme if colon and scheme in MODEL_SCHEMES else None


def register_model_kind(kind: str, target: str) -> None:
    """Add a model kind ("module:Class") to the registry `load_model` dispatches on."""
    MODEL_KINDS[kind] = target


def state_dict_for_save(module: nn.Module) -> dict[str, torch.Tensor]:
    """A state dict safe for safetensors: tensors that share storage (tied weights) are cloned apart."""
    seen: set[int] = set()
    out: dict[str, torch.Tensor] = {}
    for name, t in module.state_dict().items():
        key = t.untyped_storage().data_ptr() if t.numel() else -1
        out[name] = t.detach().clone() if key in seen else t.detach()
        seen.add(key)
    return out


def save_model_dir(
    directory: str | Path,
    module: nn.Module,
    config: dict[str, Any],
    manifest: Manifest,
    *,
    tokenizer: Any = None,
) -> Path:
    """Write a model directory; the manifest (the commit marker) goes last, the old one is removed first."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    remove_manifest(directory)
    save_safetensors(directory / WEIGHTS_FILE, state_dict_for_save(module), metadata={"format": "pt"})
    atomic_write_json(directory / CONFIG_FILE, config)
    if tokenizer is not None:
        tokenizer.save_pretrained(str(directory))
    manifest.extra.setdefault("parameters", int(sum(p.numel() for p in module.parameters())))
    write_manifest(directory, manifest)
    return directory


def read_model_dir(directory: str | Path, *, kind: str | tuple[str, ...] | None = None
                   ) -> tuple[dict[str, Any], dict[str, torch.Tensor], Manifest]:
    """(config, weights, manifest) of a finished model directory; anything missing is a UserError."""
    directory = Path(directory)
    manifest = read_manifest(directory, kind=kind)
    cfg_path = directory / CONFIG_FILE
    if not cfg_path.exists():
        raise UserError(f"no {CONFIG_FILE} in the model directory", path=directory)
    # config.json and the tokenizer's files, as recorded: without tokenizer.json transformers still builds a
    # BERT tokenizer from tokenizer_config.json, one that maps every word to [UNK] (search ranked at random)
    for name in sorted(manifest.files):
        if not name.endswith(".safetensors") and name != "metrics.jsonl":  # safetensors check themselves
            check_file(directory, name, manifest.files)
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"corrupt config ({exc.msg})", path=cfg_path) from exc
    if not isinstance(config, dict):
        raise UserError("corrupt config (expected a JSON object)", path=cfg_path)
    if config.get("kind") != manifest.kind:  # e.g. a student's files under a manifest edited to say teacher
        raise UserError(f"describes a {config.get('kind')!r} model but manifest.json says {manifest.kind!r}: "
                        "the directory mixes two models", path=cfg_path)
    for key in ("text", "backbone"):
        if not isinstance(config.get(key), dict):
            raise UserError(f"corrupt config (no {key!r} object)", path=cfg_path)
    return config, load_safetensors(directory / WEIGHTS_FILE), manifest


def load_weights(module: nn.Module, weights: dict[str, torch.Tensor], directory: str | Path) -> None:
    """Strictly load a state dict; a mismatch means the directory was made by another model version.

    Non-finite weights are refused here, for every reader (eval, search, serve, a distill's teacher, a
    resumed checkpoint): a diverged or damaged model would otherwise rank at random or train a NaN student.
    """
    where = Path(directory) / WEIGHTS_FILE if Path(directory).is_dir() else Path(directory)
    bad = first_nonfinite(weights)
    if bad is not None:
        raise UserError(f"tensor {bad[0]!r} holds NaN or infinity: the model is damaged or its training diverged",
                        path=where)
    try:
        module.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        raise UserError(f"weights do not match the config ({str(exc).splitlines()[0]})", path=where) from exc


def load_model(directory: str | Path, device: str | torch.device = "cpu", *, lite: bool = False) -> nn.Module:
    """Load any model directory (teacher or student) in eval mode, dispatching on the manifest kind; or a
    model named "scheme:SPEC" (`MODEL_SCHEMES`, e.g. openclip:NAME@PRETRAINED).

    `lite` (inference only, students): a BERT text backbone rebuilt without importing transformers
    (`cl2cm.models.bert_lite`: the same outputs, ~2.4 s less start-up for a one-query search)."""
    scheme = model_scheme(directory)
    if scheme is not None:
        model = resolve(MODEL_SCHEMES[scheme]).from_spec(str(directory).partition(":")[2], device)
        model.eval()
        return model
    manifest = read_manifest(directory)
    if manifest.kind not in MODEL_KINDS:
        raise UserError(f"is a {manifest.kind!r} artifact, expected a model ({' or '.join(MODEL_KINDS)})",
                        path=directory)
    cls = resolve(MODEL_KINDS[manifest.kind])
    model = cls.from_dir(directory, device, **({"lite": True} if lite and manifest.kind == "student" else {}))
    model.eval()
    model.source_dir = Path(directory)  # where it came from: `cl2cm.evaluate` records it like `eval --model`
    return model
