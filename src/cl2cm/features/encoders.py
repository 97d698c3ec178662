"""Frozen visual encoders, looked up by backend name; open_clip is the one the method uses.

Only the visual tower is kept (the text tower is dead weight here). Workers hand over uint8 pixels and
the encoder normalises on the device: 4x less to decode into, pin and copy than float32 pixels.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torchvision import transforms as T

from cl2cm.artifacts.io import sha256_file
from cl2cm.errors import UserError
from cl2cm.runtime import autocast_dtype

# Steps of open_clip's eval transform that we replace (RGB conversion: datasets.to_rgb; tensor and
# normalisation: uint8 tensor here, normalised on the device in `encode`).
_REPLACED_STEPS = {"MaybeConvertMode", "MaybeToTensor", "ToTensor", "Normalize"}


@dataclass
class VisualEncoder:
    """A frozen visual tower and the preprocessing that goes with it."""

    visual: torch.nn.Module
    transform: Callable[[Image.Image], torch.Tensor]
    mean: torch.Tensor
    std: torch.Tensor
    image_size: int
    dim: int
    device: torch.device
    token_width: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    # How to build this encoder again (`rebuild_encoder`): the --model/--pretrained as given, a config
    # file's text, a checkpoint's absolute path. Not part of `info` (the identity stores are checked on).
    source: dict[str, Any] = field(default_factory=dict)

    @torch.inference_mode()
    def encode(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """uint8 [B,3,H,W] → (pooled [B,D] float32, patch tokens [B,T,W] float32 or None)."""
        x = pixels.to(self.device, non_blocking=True).float().div_(255)
        x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        dtype = autocast_dtype(self.device)
        with torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = self.visual(x)
        pooled, tokens = out if isinstance(out, tuple) else (out, None)
        return pooled.float(), (tokens.float() if tokens is not None else None)


def _resolve_model_name(model: str) -> tuple[str, dict[str, Any]]:
    """An open_clip name, or a model-config JSON registered under its file stem."""
    import open_clip

    info: dict[str, Any] = {}
    path = Path(model)
    if model.endswith(".json") or path.is_file():
        if not path.is_file():
            raise UserError("--model: model-config JSON not found", path=path)
        try:
            open_clip.add_model_config(path)
        except (ValueError, KeyError, OSError) as exc:
            raise UserError(f"--model: not an open_clip model config ({exc})", path=path) from exc
        if path.stem not in open_clip.list_models():
            raise UserError("--model: not an open_clip model config (needs embed_dim and vision_cfg)", path=path)
        info["config_sha256"] = sha256_file(path)
        return path.stem, info
    if model not in open_clip.list_models():
        raise UserError(f"--model {model!r}: not an open_clip model name nor a model-config JSON file "
                        "(e.g. ViT-B-32, or path/to/config.json)")
    return model, info


def _load_open_clip(model: str, pretrained: str, *, device: torch.device, tokens: bool, seed: int,
                    allow_pickle: bool) -> VisualEncoder:
    import open_clip

    name, info = _resolve_model_name(model)
    source = pretrained_kind(pretrained)
    torch.manual_seed(seed)  # random weights (`--pretrained none`) are then a function of --seed
    logging.disable(logging.ERROR)  # open_clip logs its failures too; ours is the one line the user sees
    try:
        clip, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=pretrained if source == "tag" else None)
    except Exception as exc:  # noqa: BLE001 - a hub/cache failure is the user's to fix, in one line
        raise UserError(f"--pretrained {pretrained!r}: cannot load weights for {name} "
                        f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); pass a local "
                        "checkpoint file or 'none'") from exc
    finally:
        logging.disable(logging.NOTSET)
    if source == "file":
        info["checkpoint_sha256"] = _load_checkpoint_file(clip, Path(pretrained), allow_pickle)
    if source == "none":
        info["seed"] = seed
    visual = clip.visual
    if tokens:
        if not hasattr(visual, "output_tokens"):
            raise UserError(f"--tokens: the visual tower of {name} ({type(visual).__name__}) has no patch tokens; "
                            "use a ViT model")
        visual.output_tokens = True
    visual = visual.eval().requires_grad_(False).to(device, memory_format=torch.channels_last)
    pp = dict(visual.preprocess_cfg)
    steps = [t for t in preprocess.transforms
             if type(t).__name__ not in _REPLACED_STEPS and not inspect.isfunction(t)]
    transform = T.Compose([*steps, T.PILToTensor()])
    size = pp["size"] if isinstance(pp["size"], int) else int(max(pp["size"]))
    with torch.inference_mode():
        probe = torch.zeros(1, 3, size, size, dtype=torch.uint8)
        enc = VisualEncoder(visual, transform, torch.tensor([0.0]), torch.tensor([1.0]), size, 0, device)
        enc.mean = torch.tensor(pp["mean"], device=device).view(1, 3, 1, 1)
        enc.std = torch.tensor(pp["std"], device=device).view(1, 3, 1, 1)
        pooled, tok = enc.encode(probe)
    enc.dim = int(pooled.shape[-1])
    enc.token_width = int(tok.shape[-1]) if tok is not None else None
    enc.info = {"backend": "open_clip", "name": name, "pretrained": _pretrained_label(pretrained, source), **info}
    enc.preprocessing = {
        "size": size, "mean": list(pp["mean"]), "std": list(pp["std"]), "interpolation": pp["interpolation"],
        "resize_mode": pp["resize_mode"], "steps": [repr(s) for s in steps],
        "rgb": "alpha composited on white; 16-bit gray rescaled", "jpeg_draft": True,
    }
    if tok is not None:
        enc.preprocessing["tokens"] = int(tok.shape[1])
    enc.source = {"backend": "open_clip", "model": name,
                  "model_config": Path(model).read_text(encoding="utf-8") if "config_sha256" in info else None,
                  "pretrained": str(Path(pretrained).resolve()) if source == "file" else pretrained}
    return enc


def pretrained_kind(pretrained: str) -> str:
    """none | file | tag."""
    if pretrained.lower() in ("none", ""):
        return "none"
    p = Path(pretrained)
    if p.suffix.lower() in (".safetensors", ".bin", ".pt", ".pth", ".ckpt") or p.exists():
        return "file"
    return "tag"


def _pretrained_label(pretrained: str, source: str) -> str:
    return Path(pretrained).name if source == "file" else ("none" if source == "none" else pretrained)


def _load_checkpoint_file(clip: torch.nn.Module, path: Path, allow_pickle: bool) -> str:
    """Load a local checkpoint: safetensors always; pickle formats only with --allow-pickle."""
    import open_clip

    if not path.is_file():
        raise UserError("--pretrained: checkpoint file not found", path=path)
    if path.suffix.lower() != ".safetensors" and not allow_pickle:
        raise UserError("--pretrained: not a .safetensors file; loading a pickle checkpoint can run code, "
                        "pass --allow-pickle if you trust it", path=path)
    try:
        open_clip.load_checkpoint(clip, str(path), strict=True)
    except Exception as exc:  # noqa: BLE001
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"--pretrained: checkpoint does not fit the model ({first[:200]})", path=path) from exc
    return sha256_file(path)


# backend name → loader(model, pretrained, device=, tokens=, seed=, allow_pickle=)
ENCODER_BACKENDS: dict[str, Callable[..., VisualEncoder]] = {"open_clip": _load_open_clip}


def load_encoder(model: str, pretrained: str = "none", *, backend: str = "open_clip",
                 device: torch.device | None = None, tokens: bool = False, seed: int = 0,
                 allow_pickle: bool = False) -> VisualEncoder:
    """Build the frozen visual encoder named by `--model` / `--pretrained`."""
    if backend not in ENCODER_BACKENDS:
        raise UserError(f"--backend {backend!r}: expected one of {', '.join(ENCODER_BACKENDS)}")
    return ENCODER_BACKENDS[backend](model, pretrained, device=device or torch.device("cpu"), tokens=tokens, seed=seed,
                             allow_pickle=allow_pickle)


def rebuild_encoder(info: dict[str, Any], source: dict[str, Any], *, device: torch.device | None = None,
                    tokens: bool = False, model: str | None = None, pretrained: str | None = None
                    ) -> VisualEncoder:
    """The frozen encoder a feature store (or a student trained on one) records, built again.

    `info` is the store's model identity, `source` what `VisualEncoder.source` recorded. `model` and
    `pretrained` override the recorded ones (a checkpoint moved to another path). The result's identity
    must equal `info`, so an encoder that differs from the one the features came from is refused.
    """
    import tempfile

    backend = info.get("backend", "open_clip")
    model = model or source.get("model") or info.get("name")
    pretrained = pretrained or source.get("pretrained") or info.get("pretrained")
    if not model or not pretrained:
        raise UserError("the visual encoder is not recorded (a store from an older cl2cm?); pass model= and "
                        "pretrained=")
    with tempfile.TemporaryDirectory() as tmp:
        text = source.get("model_config")
        if text is not None and not str(model).endswith(".json"):  # the config file's own bytes, same sha256
            model = str(Path(tmp) / f"{info.get('name', model)}.json")
            Path(model).write_text(text, encoding="utf-8")
        encoder = load_encoder(model, pretrained, backend=backend, device=device, tokens=tokens,
                               seed=int(info.get("seed", 0)), allow_pickle=False)
    # A checkpoint is identified by its sha256; its file name (the `pretrained` label) may differ after a move.
    ignore = {"pretrained"} if "checkpoint_sha256" in info else set()
    diff = sorted(k for k in (set(info) | set(encoder.info)) - ignore if info.get(k) != encoder.info.get(k))
    if diff:
        raise UserError(f"the rebuilt visual encoder differs from the recorded one in {', '.join(diff)} "
                        f"(recorded {info}); pass the model= / pretrained= the features were made with")
    return encoder
