"""Device selection and seeding shared by every stage."""

from __future__ import annotations

import contextlib
import os
import random
import re
from collections.abc import Iterator

import numpy as np
import torch

from cl2cm.errors import UserError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str = "auto") -> torch.device:
    """Map `--device auto|cpu|cuda[:N]` to a torch device; asking for CUDA without one is a user error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", device)
    if match is None:
        raise UserError(f"--device {device!r}: expected one of auto, cpu, cuda (or cuda:N)")
    if not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA device is available on this machine")
    if match.group(1) is not None and int(match.group(1)) >= torch.cuda.device_count():
        raise UserError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s) "
                        f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch so that a run is reproducible under `--seed`."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 where the GPU supports it, fp16 otherwise on CUDA; no autocast on CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextlib.contextmanager
def no_hf_progress_bars() -> Iterator[None]:
    """Without transformers' tqdm "Loading weights" bars: stderr is for errors and our own progress."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()
