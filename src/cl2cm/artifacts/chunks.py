"""Resumable chunked output for long stages (translate, extract-features).

A long stage splits its work into numbered chunks in a deterministic order. Each finished chunk is
committed atomically to ``OUT/.parts/<name>/chunk-NNNNNN.<ext>``; a rerun after a kill (SIGKILL
included) skips the chunks already there, so no row is lost or written twice. ``run.json`` in the parts
directory pins what the chunks were made from (model, input checksum, options): a rerun with a different
key is refused unless ``overwrite`` is set, because mixing chunks of two runs would corrupt the result.
Shards (``--shard i/n``) write disjoint chunks into the same directory; whoever finds every chunk done
merges. `ChunkJob` is that whole protocol (lock → plan → commit chunks → the last shard merges) for every
chunked stage; a stage only says what a chunk is and how the chunks merge.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors import SafetensorError, safe_open

from cl2cm import testhook
from cl2cm.artifacts.io import atomic_open, atomic_write_json, read_lines
from cl2cm.artifacts.lock import output_lock
from cl2cm.artifacts.store import load_safetensors, save_safetensors
from cl2cm.errors import UserError

_CHUNK = re.compile(r"^chunk-(\d{6})\.(jsonl|safetensors)$")


def parse_shard(spec: str | None) -> tuple[int, int]:
    """`--shard i/n` (0-based i) → (i, n); None → (0, 1)."""
    if not spec:
        return 0, 1
    m = re.fullmatch(r"(\d+)/(\d+)", spec.strip())
    if not m or int(m[2]) < 1 or int(m[1]) >= int(m[2]):
        raise UserError(f"--shard {spec!r}: expected i/n with 0 <= i < n, e.g. 0/4")
    return int(m[1]), int(m[2])


class ChunkedRun:
    """The parts directory of one resumable output."""

    def __init__(self, out_dir: str | Path, name: str, key: dict[str, Any], *, overwrite: bool = False) -> None:
        self.dir = Path(out_dir) / ".parts" / name
        self.key = json.loads(json.dumps(key, sort_keys=True, default=str))
        run_file = self.dir / "run.json"
        if run_file.exists():
            try:
                old = json.loads(run_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = None
            if old != self.key:
                if not overwrite:
                    diff = sorted(k for k in set(self.key) | set(old or {}) if (old or {}).get(k) != self.key.get(k))
                    raise UserError(
                        f"holds partial output of a different run (differs in: {', '.join(diff) or 'format'}); "
                        "pass --overwrite to discard it", path=self.dir.parent.parent)
                shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        if not run_file.exists():
            atomic_write_json(run_file, self.key)

    def done(self) -> set[int]:
        """Indices of the chunks already committed."""
        return {int(m[1]) for p in self.dir.iterdir() if (m := _CHUNK.match(p.name))}

    def _path(self, index: int, ext: str) -> Path:
        return self.dir / f"chunk-{index:06d}.{ext}"

    def write_rows(self, index: int, rows: Iterable[dict[str, Any]]) -> None:
        with atomic_open(self._path(index, "jsonl")) as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        testhook.committed(self.dir.name)

    def read_rows(self, index: int) -> list[dict[str, Any]]:
        path = self._path(index, "jsonl")
        return [json.loads(line) for line in read_lines(path) if line]

    def write_tensors(self, index: int, tensors: dict[str, torch.Tensor]) -> None:
        save_safetensors(self._path(index, "safetensors"), tensors)
        testhook.committed(self.dir.name)

    def read_tensors(self, index: int) -> dict[str, torch.Tensor]:
        return load_safetensors(self._path(index, "safetensors"))

    def tensors_path(self, index: int) -> Path:
        return self._path(index, "safetensors")

    def read_tensor(self, index: int, name: str) -> torch.Tensor:
        """One named tensor of a chunk; the others stay on disk (a merge reads big tensors one at a time)."""
        path = self._path(index, "safetensors")
        try:
            with safe_open(str(path), framework="pt") as fh:
                return fh.get_tensor(name)
        except (SafetensorError, OSError, KeyError, ValueError, RuntimeError) as exc:
            raise UserError(f"corrupt or incomplete chunk ({str(exc).splitlines()[0] if str(exc) else exc!r}); "
                            "rerun with --overwrite", path=path) from exc

    def cleanup(self) -> None:
        """Remove the parts once the merged artifact is committed."""
        shutil.rmtree(self.dir, ignore_errors=True)
        parent = self.dir.parent
        if parent.exists() and not any(parent.iterdir()):
            parent.rmdir()


def chunk_ranges(n_items: int, chunk_size: int) -> list[range]:
    """Fixed-size item ranges; the last one may be short."""
    if chunk_size < 1:
        raise UserError(f"chunk size must be positive, got {chunk_size}")
    return [range(s, min(s + chunk_size, n_items)) for s in range(0, n_items, chunk_size)]


def my_chunks(n_chunks: int, shard: tuple[int, int]) -> list[int]:
    """The chunk indices that shard i of n owns (round-robin, so shards get similar work)."""
    i, n = shard
    return [c for c in range(n_chunks) if c % n == i]


@dataclass
class ChunkPlan:
    """One resumable output of a job: its parts directory, the item range of each chunk, this shard's work."""

    name: str
    run: ChunkedRun
    ranges: list[range]
    todo: list[int] = field(default_factory=list)  # this shard's chunks not committed yet

    @property
    def missing(self) -> set[int]:
        """Chunks of any shard not committed yet."""
        return set(range(len(self.ranges))) - self.run.done()

    @property
    def todo_items(self) -> int:
        return sum(len(self.ranges[c]) for c in self.todo)


class ChunkJob:
    """plan → chunks → commit → the last shard merges, for one output directory.

    Entered, it locks `out` for an unsharded run (a concurrent writer is refused at once, not after the
    work) and `out/.parts/.shard-i-of-n` for a shard (the same shard twice is refused). `plan` opens the
    parts of one output and lists this shard's pending chunks; the stage commits each chunk through
    `plan.run`; `claim_merge` says whether this process merges: every chunk of every plan is done and it
    holds the output lock (a sharded run takes it now; when another shard holds it, that one merges).
    """

    def __init__(self, out: str | Path, shard: tuple[int, int] = (0, 1), *, collective: bool = False) -> None:
        self.out = Path(out)
        self.shard = shard
        # torchrun (`cl2cm.distributed.stage_ranks`): shard = (RANK, WORLD_SIZE) of an initialised group; rank 0 owns
        # OUT and opens the plans first, the ranks meet at a barrier before the merge, rank 0 merges.
        self.collective = collective and shard[1] > 1
        self.plans: list[ChunkPlan] = []
        self._stack = ExitStack()
        self._released = False

    @property
    def sharded(self) -> bool:
        return self.shard[1] > 1

    @property
    def is_main(self) -> bool:
        return self.shard[0] == 0

    def __enter__(self) -> ChunkJob:
        with ExitStack() as stack:
            if self.collective:
                if self.is_main:
                    stack.enter_context(output_lock(self.out))
            else:
                stack.enter_context(output_lock(self.out if not self.sharded else self._shard_dir))
            self._stack = stack.pop_all()
        if self.collective and not self.is_main:
            dist.barrier()  # wait until rank 0 has opened (--overwrite: reset) every plan
        return self

    def planned(self) -> None:
        """Under torchrun: rank 0 has opened its plans, the other ranks may open theirs (no-op otherwise)."""
        if self.collective and self.is_main and not self._released:
            self._released = True
            dist.barrier()

    def __exit__(self, *exc: object) -> None:
        try:
            self.planned()  # rank 0 returning early (already complete, an error) must not strand the others
        finally:
            self._stack.close()
        if self.sharded and not self.collective:  # the shard's lock dir, and the parts dir once nothing is left
            for d in (self._shard_dir, self._shard_dir.parent):
                if d.is_dir() and not any(d.iterdir()):
                    d.rmdir()

    @property
    def _shard_dir(self) -> Path:
        return self.out / ".parts" / f".shard-{self.shard[0]}-of-{self.shard[1]}"

    def plan(self, name: str, key: dict[str, Any], n_items: int, chunk_size: int, *,
             overwrite: bool = False) -> ChunkPlan:
        """Open (or resume) the parts of output `name`; chunks run under another `key` are refused."""
        run = ChunkedRun(self.out, name, key, overwrite=overwrite)
        ranges = chunk_ranges(n_items, chunk_size)
        done = run.done()
        plan = ChunkPlan(name, run, ranges, [c for c in my_chunks(len(ranges), self.shard) if c not in done])
        self.plans.append(plan)
        return plan

    def missing(self) -> int:
        """Chunks of every plan (any shard) still to commit."""
        return sum(len(p.missing) for p in self.plans)

    def claim_merge(self) -> bool:
        """True when every chunk is committed and this process holds the output lock to merge. Under
        torchrun every rank waits here for the others; rank 0 merges."""
        if self.collective:
            self.planned()
            dist.barrier()
            return self.is_main and not self.missing()
        if self.missing():
            return False
        if self.sharded:
            try:
                self._stack.enter_context(output_lock(self.out))
            except UserError:  # another shard finished at the same moment and is merging
                return False
        return True
