"""Losses, one small module per concept: sentence-level contrastive, word-level OT, knowledge transfer."""

from cl2cm.losses.contrastive import InfoNCE, TripletLoss, same_group_mask
from cl2cm.losses.ot import SinkhornOT, WordAlignmentLoss, cosine_cost
from cl2cm.losses.transfer import RelationalTransferLoss, TransferTerms  # noqa: F401  (distill's line)

__all__ = ["InfoNCE", "SinkhornOT", "TripletLoss", "WordAlignmentLoss", "cosine_cost", "same_group_mask"]
