"""Retrieval evaluation and search: the exact chunked rank engine and what is built on it."""

from cl2cm.retrieval.metrics import (
    DEFAULT_KS,
    TIE_RULES,
    Ranks,
    compute_ranks,
    evaluate_text_to_visual,
    gallery_index,
    ranks_from_scores,
    retrieval_metrics,
)

__all__ = ["DEFAULT_KS", "TIE_RULES", "Ranks", "compute_ranks", "evaluate_text_to_visual", "gallery_index",
           "ranks_from_scores", "retrieval_metrics"]
