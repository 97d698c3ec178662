"""A toy contrastive task for engine tests: two views of random ids through a tiny net, InfoNCE over all ranks."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from cl2cm.artifacts.store import save_safetensors
from cl2cm.losses import InfoNCE, same_group_mask
from cl2cm.train import TrainTask
from cl2cm.train.dist import all_gather_nograd, all_gather_with_grad


class ToyNet(nn.Module):
    def __init__(self, vocab: int = 64, dim: int = 16, dropout: float = 0.1) -> None:
        super().__init__()
        self.emb_a = nn.Embedding(vocab, dim)
        self.emb_b = nn.Embedding(vocab, dim)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, dim))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fa = nn.functional.normalize(self.head(self.emb_a(a)), dim=-1)
        fb = nn.functional.normalize(self.head(self.emb_b(b)), dim=-1)
        return fa, fb


class ToyTask(TrainTask):
    metric = "acc"

    def __init__(self, n: int = 256, vocab: int = 64, seed: int = 0, dropout: float = 0.1,
                 fail_at_step: int | None = None) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, vocab, (n,), generator=g)
        self.groups = self.ids.clone()  # same id = same "image": positives
        torch.manual_seed(seed)
        self.net = ToyNet(vocab, dropout=dropout)
        self.loss_fn = InfoNCE(0.1)
        self.fail_at_step = fail_at_step
        self.calls = 0

    def module(self) -> nn.Module:
        return self.net

    def train_dataset(self) -> TensorDataset:
        return TensorDataset(self.ids, self.ids, self.groups)

    def loss(self, model: nn.Module, batch) -> dict[str, torch.Tensor]:
        self.calls += 1
        if self.fail_at_step is not None and self.calls > self.fail_at_step:
            raise KeyboardInterrupt("simulated kill")
        a, b, g = batch
        fa, fb = model(a, b)
        fa, fb, g = all_gather_with_grad(fa), all_gather_with_grad(fb), all_gather_nograd(g)
        loss = self.loss_fn(fa, fb, same_group_mask(g))
        return {"loss": loss, "nce": loss.detach()}

    def validate(self, module: nn.Module) -> dict[str, float]:
        ids = torch.arange(64)
        fa, fb = module(ids, ids)
        return {"acc": float(((fa @ fb.t()).argmax(1) == ids).float().mean())}

    def save(self, module: nn.Module, out_dir: Path, best: dict[str, float] | None = None) -> None:
        self.saved_best = best  # what the engine handed over (tests)
        save_safetensors(out_dir / "toy.safetensors", module.state_dict())
