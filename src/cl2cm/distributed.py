"""Which process am I: the torchrun group (rank, world size, local rank) and a stage's share of the work.

Every stage that can run under torchrun or `--shard i/n` (translate, extract-features, eval, training)
asks here; it sits below all of them so that none reaches into another stage's package for it. The
gradient-keeping all-gather that only training needs stays in `cl2cm.train.dist`.
"""

from __future__ import annotations

import atexit
import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from cl2cm.artifacts.chunks import parse_shard
from cl2cm.errors import ConfigError


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


def init_from_env(device_type: str, *, backend: str | None = None,
                  timeout: datetime.timedelta | None = None) -> DistInfo:
    """Join the process group torchrun describes (WORLD_SIZE/RANK/LOCAL_RANK); a no-op for one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 and not is_dist():
        return DistInfo()
    if not is_dist():
        backend = backend or ("nccl" if device_type == "cuda" else "gloo")
        dist.init_process_group(backend=backend, **({"timeout": timeout} if timeout else {}))
        # Leave the group before the interpreter tears down: a gloo group still alive at exit can abort the
        # process ("terminate called without an active exception") when a peer has already gone.
        atexit.register(_leave)
    return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(),
                    local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def broadcast_object(obj: object, src: int = 0) -> object:
    if not is_dist():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def barrier() -> None:
    if is_dist():
        dist.barrier()


# ---------------------------------------------------------------------------------------------- stages
# translate / extract-features / eval under torchrun: no gradients, only a barrier (file stages) or a sum of
# exact counts (eval) between ranks, so they always use a gloo group (CPU tensors, any node), with a timeout
# long enough for the slowest rank's share of a large corpus.
STAGE_TIMEOUT = datetime.timedelta(hours=24)


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@dataclass
class StageRanks:
    """Which share of a stage's work this process does, and how the processes meet.

    `collective` (torchrun): shard RANK of WORLD_SIZE in a gloo group; `artifacts.chunks.ChunkJob` then lets
    rank 0 open the outputs first, meets the ranks at a barrier and has rank 0 merge; eval sums its counts
    over the group. Otherwise `--shard i/n` (processes a scheduler started, e.g. a Slurm array): no group,
    and whichever shard finds every chunk done merges.
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    collective: bool = False

    @property
    def shard(self) -> tuple[int, int]:
        return self.rank, self.world

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """Each rank of a node on its own GPU (cuda:LOCAL_RANK) under torchrun."""
        if self.collective and device.type == "cuda" and device.index is None:
            return torch.device("cuda", self.local_rank)
        return device


def stage_ranks(shard: str | None) -> StageRanks:
    """`--shard i/n`, or under torchrun RANK/WORLD_SIZE (joining a gloo group); both at once is an error."""
    if not launched_by_torchrun():
        i, n = parse_shard(shard)
        return StageRanks(rank=i, world=n)
    if shard:
        raise ConfigError("{shard} {value}: under torchrun each process already takes shard RANK of WORLD_SIZE; "
                          "drop {shard} (it is for processes a scheduler starts itself)", value=shard)
    if not is_dist():
        init_from_env("cpu", backend="gloo", timeout=STAGE_TIMEOUT)
    return StageRanks(rank=dist.get_rank(), world=dist.get_world_size(),
                      local_rank=int(os.environ.get("LOCAL_RANK", "0")), collective=True)


def _leave() -> None:
    if is_dist():
        dist.destroy_process_group()
