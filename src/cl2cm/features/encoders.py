"""Frozen visual encoders, looked up by backend name (`ENCODER_BACKENDS`): open_clip (the default, what the
method uses) and `hf` (Hugging Face CLIP / SigLIP vision towers through transformers).

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

from cl2cm.artifacts.io import sha256_file, sha256_text
from cl2cm.errors import UserError
from cl2cm.runtime import autocast_dtype, no_hf_progress_bars

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


def create_clip(model: str, pretrained: str, *, seed: int = 0, allow_pickle: bool = False
                ) -> tuple[torch.nn.Module, Any, dict[str, Any]]:
    """(the whole open_clip model, its eval transform, its identity as a store records it: backend, name,
    pretrained label, config/checkpoint sha256 or seed). Random weights are a function of `seed`, so the
    same call rebuilds the model a store's features came from (text tower included: zero-shot eval)."""
    import open_clip

    name, info = _resolve_model_name(model)
    source = pretrained_kind(pretrained)
    torch.manual_seed(seed)  # random weights (`--pretrained none`) are then a function of --seed
    logging.disable(logging.ERROR)  # open_clip logs its failures too; ours is the one line the user sees
    try:
        with no_hf_progress_bars():  # an HF text tower (multilingual CLIP) loads through transformers
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
    identity = {"backend": "open_clip", "name": name, "pretrained": _pretrained_label(pretrained, source), **info}
    return clip, preprocess, identity


def _load_open_clip(model: str, pretrained: str, *, device: torch.device, tokens: bool, seed: int,
                    allow_pickle: bool) -> VisualEncoder:
    clip, preprocess, identity = create_clip(model, pretrained, seed=seed, allow_pickle=allow_pickle)
    name, source, info = identity["name"], pretrained_kind(pretrained), identity
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
    enc.info = identity
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


class _HFVisual(torch.nn.Module):
    """A transformers vision tower as `VisualEncoder.visual`: pixels → pooled image embedding (+ tokens).

    The pooled row is what the model itself calls its image features: `get_image_features` of a
    two-tower model (CLIP: projected; SigLIP: the attention-pool head), else the tower's `image_embeds`
    (`CLIPVisionModelWithProjection`) or `pooler_output` (`SiglipVisionModel`, `CLIPVisionModel`). Tokens
    are the last hidden states without the class token (the patch tokens).
    """

    def __init__(self, model: torch.nn.Module, *, tokens: bool, class_token: bool) -> None:
        super().__init__()
        self.model = model
        self.output_tokens = tokens
        self.class_token = class_token

    def forward(self, pixels: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if hasattr(self.model, "get_image_features"):
            out = self.model.get_image_features(pixel_values=pixels)
            pooled = out if isinstance(out, torch.Tensor) else out.pooler_output
        else:
            out = self.model(pixel_values=pixels)
            pooled = getattr(out, "image_embeds", None)
            pooled = out.pooler_output if pooled is None else pooled
        if not self.output_tokens:
            return pooled
        if isinstance(out, torch.Tensor):  # an older transformers returns the bare tensor: run the tower again
            out = self.model.vision_model(pixel_values=pixels)
        tokens = out.last_hidden_state
        return pooled, tokens[:, 1:] if self.class_token else tokens


def _hf_size(value: Any, key: str) -> int | None:
    """One entry of an image processor's `size` / `crop_size` (a dict or an object with attributes)."""
    got = value.get(key) if isinstance(value, dict) else getattr(value, key, None)
    return int(got) if got else None


def _hf_transform(processor: Any) -> tuple[Callable[[Image.Image], torch.Tensor], int, dict[str, Any]]:
    """The image processor's resize / center-crop as a PIL transform to uint8, its side, and a record."""
    from torchvision.transforms import InterpolationMode

    resample = getattr(processor, "resample", None)
    interpolation = {0: InterpolationMode.NEAREST, 2: InterpolationMode.BILINEAR, 3: InterpolationMode.BICUBIC,
                     1: InterpolationMode.LANCZOS}.get(int(resample) if resample is not None else 3,
                                                         InterpolationMode.BICUBIC)
    size = getattr(processor, "size", None) or {}
    height, width, short = _hf_size(size, "height"), _hf_size(size, "width"), _hf_size(size, "shortest_edge")
    steps: list[Any] = []
    if height and width:
        steps.append(T.Resize((height, width), interpolation=interpolation))
        side = max(height, width)
    elif short:
        steps.append(T.Resize(short, interpolation=interpolation))
        side = short
    else:
        raise UserError(f"--model: the image processor's size {size!r} names no height/width nor shortest_edge")
    crop = getattr(processor, "crop_size", None)
    if getattr(processor, "do_center_crop", False) and crop:
        ch, cw = _hf_size(crop, "height"), _hf_size(crop, "width")
        steps.append(T.CenterCrop((ch, cw)))
        side = max(ch or side, cw or side)
    record = {"steps": [repr(t) for t in steps], "interpolation": interpolation.value}
    return T.Compose([*steps, T.PILToTensor()]), side, record


def _load_hf(model: str, pretrained: str, *, device: torch.device, tokens: bool, seed: int,
             allow_pickle: bool) -> VisualEncoder:
    """A Hugging Face vision model (SigLIP, SigLIP 2 at fixed resolution, CLIP; two-tower or vision-only)
    by hub id or local directory, through `from_pretrained`; preprocessing from its image processor config.
    `pretrained` is unused (the weights are the directory's / hub id's)."""
    import transformers

    path = Path(model)
    if model.startswith((".", "/", "~")) and not path.is_dir():
        raise UserError("--model: directory not found (a Hugging Face model directory or hub id)", path=path)
    if path.is_dir() and not (path / "preprocessor_config.json").is_file():
        raise UserError("--model: no preprocessor_config.json (the image processor config that says how to "
                        "resize and normalise) in this model directory", path=path)
    try:
        config = transformers.AutoConfig.from_pretrained(model)
        processor = transformers.AutoImageProcessor.from_pretrained(model)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"--model {model!r}: cannot load a Hugging Face model config and image processor "
                        f"({first[:200]})") from exc
    if config.model_type == "siglip2":
        raise UserError(f"--model {model!r}: NaFlex (variable-resolution) SigLIP 2 models are not supported; "
                        "use a fixed-resolution SigLIP 2 checkpoint (model_type siglip, e.g. "
                        "google/siglip2-base-patch16-224)")
    torch.manual_seed(seed)
    # The class the checkpoint was saved as (its `architectures`), so a vision model with a projection keeps
    # it; AutoModel maps a config type to the bare tower.
    saved = next(iter(getattr(config, "architectures", None) or []), None)
    cls = getattr(transformers, saved, None) if saved else None
    cls = cls if cls is not None and hasattr(cls, "from_pretrained") else transformers.AutoModel
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # the load report and progress bars: ours is the one line
    transformers.logging.disable_progress_bar()
    try:
        net = cls.from_pretrained(model, use_safetensors=None if allow_pickle else True)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = "" if allow_pickle else " (only safetensors weights load without --allow-pickle)"
        raise UserError(f"--model {model!r}: cannot load the weights ({first[:200]}){hint}") from exc
    finally:
        transformers.logging.set_verbosity(verbosity)
        transformers.logging.enable_progress_bar()
    if not (hasattr(net, "get_image_features") or hasattr(net, "vision_model")
            or type(net).__name__.endswith(("VisionModel", "VisionModelWithProjection"))):
        raise UserError(f"--model {model!r}: {type(net).__name__} has no vision tower (expected a CLIP/SigLIP "
                        "model or vision model)")
    if hasattr(net, "text_model"):  # dead weight here, as open_clip's text tower
        net.text_model = None
    class_token = config.model_type in ("clip", "clip_vision_model")
    visual = _HFVisual(net, tokens=tokens, class_token=class_token)
    visual = visual.eval().requires_grad_(False).to(device, memory_format=torch.channels_last)
    transform, size, record = _hf_transform(processor)
    do_norm = getattr(processor, "do_normalize", True)
    mean = list(processor.image_mean) if do_norm else [0.0, 0.0, 0.0]
    std = list(processor.image_std) if do_norm else [1.0, 1.0, 1.0]
    if getattr(processor, "do_rescale", True) and abs(float(getattr(processor, "rescale_factor", 1 / 255)) - 1 / 255) > 1e-9:
        raise UserError(f"--model {model!r}: the image processor rescales by {processor.rescale_factor}, not 1/255")
    enc = VisualEncoder(visual, transform, torch.tensor(mean, device=device).view(1, 3, 1, 1),
                        torch.tensor(std, device=device).view(1, 3, 1, 1), size, 0, device)
    with torch.inference_mode():
        pooled, tok = enc.encode(torch.zeros(1, 3, size, size, dtype=torch.uint8))
    enc.dim = int(pooled.shape[-1])
    enc.token_width = int(tok.shape[-1]) if tok is not None else None
    weights = (sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))) if path.is_dir() else []
    if weights:  # a local directory: its weight files (several: the digest of their digests, in name order)
        digests = [sha256_file(w) for w in weights]
        identity = {"weights_sha256": digests[0] if len(digests) == 1 else sha256_text("".join(digests))}
    else:  # a hub id: the snapshot transformers resolved
        identity = {"revision": getattr(config, "_commit_hash", None) or "unknown"}
    enc.info = {"backend": "hf", "name": path.name if path.is_dir() else model, "architecture": type(net).__name__,
                "pretrained": "from_pretrained", **identity}
    enc.preprocessing = {"size": size, "mean": mean, "std": std, **record, "processor": type(processor).__name__,
                         "rgb": "alpha composited on white; 16-bit gray rescaled", "jpeg_draft": True}
    if tok is not None:
        enc.preprocessing["tokens"] = int(tok.shape[1])
    enc.source = {"backend": "hf", "model": str(path.resolve()) if path.is_dir() else model,
                  "pretrained": "from_pretrained"}
    return enc


# backend name → loader(model, pretrained, device=, tokens=, seed=, allow_pickle=)
ENCODER_BACKENDS: dict[str, Callable[..., VisualEncoder]] = {"open_clip": _load_open_clip, "hf": _load_hf}


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
