"""Distributed training helpers: an all-gather that keeps gradients (the process group itself is `cl2cm.distributed`).

Contrastive losses need negatives from every rank: each rank gathers the embeddings of all ranks and
computes the loss of the *global* batch. The gather's backward sums the gradients of all ranks' (identical)
losses and returns this rank's slice; DDP then averages parameter gradients over ranks, which gives exactly
the gradient of the global-batch loss of a single process.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from cl2cm.distributed import get_world_size, is_dist


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
