"""Losses, one small module per concept: sentence-level contrastive, word-level OT, knowledge transfer.

`registry` names the loss terms a training stage sums (name → weight); `terms` holds the built-in ones.
Names are re-exported lazily so that the registry (read while parsing the command line) does not import
torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "InfoNCE": "cl2cm.losses.contrastive", "TripletLoss": "cl2cm.losses.contrastive",
    "same_group_mask": "cl2cm.losses.contrastive", "SinkhornOT": "cl2cm.losses.ot",
    "WordAlignmentLoss": "cl2cm.losses.ot", "cosine_cost": "cl2cm.losses.ot",
    "RelationalTransferLoss": "cl2cm.losses.transfer", "TransferTerms": "cl2cm.losses.transfer",
}

__all__ = ["InfoNCE", "SinkhornOT", "TripletLoss", "WordAlignmentLoss", "cosine_cost", "same_group_mask"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cl2cm.losses' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
