"""Distributed helpers: torchrun environment, rank queries, and an all-gather that keeps gradients.

Contrastive losses need negatives from every rank: each rank gathers the embeddings of all ranks and
computes the loss of the *global* batch. The gather's backward sums the gradients of all ranks' (identical)
losses and returns this rank's slice; DDP then averages parameter gradients over ranks, which gives exactly
the gradient of the global-batch loss of a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def is_dist() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_dist() else 0


def is_main_process() -> bool:
    """Rank 0, also before `init_from_env` joined the group (torchrun's RANK), for the writes only it does."""
    return (dist.get_rank() if is_dist() else int(os.environ.get("RANK", "0"))) == 0


def get_world_size() -> int:
    return dist.get_world_size() if is_dist() else 1


def init_from_env(device_type: str) -> DistInfo:
    """Join the process group torchrun describes (WORLD_SIZE/RANK/LOCAL_RANK); a no-op for one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 and not is_dist():
        return DistInfo()
    if not is_dist():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(),
                    local_rank=int(os.environ.get("LOCAL_RANK", "0")))


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)  # all_reduce, not reduce_scatter: gloo lacks the latter
        return grad[ctx.rank * ctx.n:(ctx.rank + 1) * ctx.n]


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate `x` [n, ...] of every rank in rank order (equal n per rank); identity for one process."""
    if not is_dist() or get_world_size() == 1:
        return x
    return _GatherWithGrad.apply(x)


def all_gather_nograd(x: torch.Tensor) -> torch.Tensor:
    """Concatenate a tensor of every rank without gradient (image ids for the positive mask)."""
    if not is_dist() or get_world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


def mean_over_ranks(x: torch.Tensor) -> torch.Tensor:
    """Average a (detached) scalar over ranks, for logging."""
    if not is_dist():
        return x
    y = x.detach().clone()
    dist.all_reduce(y, op=dist.ReduceOp.SUM)
    return y / get_world_size()


def broadcast_object(obj: object, src: int = 0) -> object:
    if not is_dist():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def barrier() -> None:
    if is_dist():
        dist.barrier()
