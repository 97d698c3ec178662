"""The DataLoader: workers decode and resize, batches never straddle a chunk.

One loader serves every pending chunk of a run (starting worker processes per chunk would cost more
than small chunks take), and its batches are cut at chunk boundaries so a chunk can be committed as
soon as its last batch is encoded.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Sampler

from cl2cm.features.datasets import ImageDataset, collate


class ChunkBatchSampler(Sampler[list[int]]):
    """Batches of at most `batch_size` item indices, in order, within each range of `chunks`."""

    def __init__(self, chunks: list[range], batch_size: int) -> None:
        self.chunks, self.batch_size = chunks, batch_size

    def __iter__(self) -> Iterator[list[int]]:
        for chunk in self.chunks:
            for start in range(chunk.start, chunk.stop, self.batch_size):
                yield list(range(start, min(start + self.batch_size, chunk.stop)))

    def __len__(self) -> int:
        return sum(-(-len(c) // self.batch_size) for c in self.chunks)


def make_loader(dataset: ImageDataset, chunks: list[range], *, batch_size: int, workers: int,
                device: torch.device) -> DataLoader:
    """Worker processes decode; pinned memory lets the host→GPU copy overlap with compute."""
    # More workers than cores is a legitimate choice when decoding waits on I/O; torch warns anyway.
    warnings.filterwarnings("ignore", message="This DataLoader will create")
    return DataLoader(
        dataset,
        batch_sampler=ChunkBatchSampler(chunks, batch_size),
        num_workers=workers,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
        prefetch_factor=4 if workers > 0 else None,
        persistent_workers=False,
    )
