"""Stage 1 of CL2CM: train the cross-lingual (CL) teacher on English ↔ translated caption pairs.

Loss of a batch of B pairs (English s_i, translation t_i, image ids g_i; all ranks' rows under DDP):

    L = w_nce · InfoNCE(t, s; pos = [g_i = g_j])  +  w_tri · Triplet(t, s; pos)  +  λ_ot · L_ot(H^s, H^t)

(sentence level + word level by OT, the CL network's "multi-level alignment"; weights are flags because
the paper's values are unknown). Validation ranks English captions for each human target-language caption
with the metric engine of `eval` (`cl2cm.retrieval.metrics`); R@1+R@5+R@10 selects the best epoch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from cl2cm.artifacts.captions import Caption
from cl2cm.artifacts.io import removed_if_left_empty
from cl2cm.artifacts.lock import output_lock
from cl2cm.artifacts.manifest import Manifest, checksum_inputs, remove_manifest
from cl2cm.config.teacher import TeacherOptions, TrainTeacherConfig
from cl2cm.distributed import is_main_process
from cl2cm.errors import ConfigError
from cl2cm.losses.contrastive import same_group_mask
from cl2cm.losses.registry import TEACHER_LOSSES, active
from cl2cm.losses.terms import LossInputs, build_terms, sum_terms
from cl2cm.models.teacher import CrossLingualTeacher, TeacherConfig
from cl2cm.models.text import tokenizer_fingerprint
from cl2cm.progress import Progress
from cl2cm.runtime import seed_everything
from cl2cm.train.data import (
    IndexDataset,
    Pairs,
    cache_key,
    cached,
    group_ids,
    language_inputs,
    per_language_metrics,
    read_language_pairs,
    tokenize_corpus,
    trim,
)
from cl2cm.train.dist import all_gather_nograd, all_gather_with_grad
from cl2cm.train.engine import CKPT_DIR, LAST, FitResult, TrainTask, fit


# ---------------------------------------------------------------------------------------------- data
@dataclass
class PairTokens:
    """A corpus tokenised once: padded id matrices (int32) + lengths + the image group of each pair."""

    src_ids: torch.Tensor  # [N, L]
    src_len: torch.Tensor  # [N]
    tgt_ids: torch.Tensor
    tgt_len: torch.Tensor
    groups: torch.Tensor  # [N] long

    def to_tensors(self) -> dict[str, torch.Tensor]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# ---------------------------------------------------------------------------------------------- task
class TeacherTrainModule(nn.Module):
    """The teacher plus the loss terms' own parameters (a learnable temperature), optimised together."""

    def __init__(self, teacher: CrossLingualTeacher, losses: nn.ModuleDict) -> None:
        super().__init__()
        self.teacher = teacher
        self.losses = losses

    def forward(self, src_ids: torch.Tensor, src_mask: torch.Tensor, tgt_ids: torch.Tensor,
                tgt_mask: torch.Tensor) -> Any:
        return self.teacher(src_ids, src_mask, tgt_ids, tgt_mask)


class TeacherTask(TrainTask):
    metric = "val_rsum"

    def __init__(self, teacher: CrossLingualTeacher, tokens: PairTokens, options: TeacherOptions, *,
                 val: dict[str, Pairs] | None = None, manifest: Manifest | None = None,
                 val_batch_size: int = 256, languages: torch.Tensor | None = None) -> None:
        self.weights, terms = build_terms(TEACHER_LOSSES, options)  # the configured terms: name → weight
        self.net = TeacherTrainModule(teacher, terms)
        self.tokens = tokens
        self.options = options
        self.val = val
        self.manifest = manifest or Manifest(kind="teacher")
        self.val_batch_size = val_batch_size
        self.languages = languages
        if not val:
            self.metric = None

    def module(self) -> nn.Module:
        return self.net

    def train_languages(self) -> torch.Tensor | None:
        return self.languages

    def fingerprint(self) -> dict[str, Any]:
        return {"inputs": self.manifest.inputs, "pairs": int(len(self.tokens.groups)),
                "options": asdict(self.options), "tokenizer": tokenizer_fingerprint(self.net.teacher.tokenizer)}

    def train_dataset(self) -> Dataset:
        return IndexDataset(len(self.tokens.groups))

    def collate(self, items: list[int]) -> dict[str, torch.Tensor]:
        idx = torch.tensor(items, dtype=torch.long)
        t = self.tokens
        src_ids, src_mask = trim(t.src_ids[idx], t.src_len[idx])
        tgt_ids, tgt_mask = trim(t.tgt_ids[idx], t.tgt_len[idx])
        return {"src_ids": src_ids, "src_mask": src_mask, "tgt_ids": tgt_ids, "tgt_mask": tgt_mask,
                "groups": t.groups[idx]}

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        src, tgt = model(batch["src_ids"], batch["src_mask"], batch["tgt_ids"], batch["tgt_mask"])
        x = LossInputs(target=all_gather_with_grad(tgt.emb), english=all_gather_with_grad(src.emb),
                       positives=same_group_mask(all_gather_nograd(batch["groups"])),
                       target_tokens=tgt.tokens, target_token_mask=tgt.token_mask,
                       english_tokens=src.tokens, english_token_mask=src.token_mask)
        return sum_terms(self.weights, self.net.losses, x)

    def validate(self, module: nn.Module) -> dict[str, float]:
        if not self.val:
            return {}
        teacher: CrossLingualTeacher = module.teacher  # type: ignore[assignment]
        return per_language_metrics({code: validate_teacher(teacher, pairs, self.val_batch_size)
                                     for code, pairs in self.val.items()})

    def save(self, module: nn.Module, out_dir: Path, best: dict[str, float] | None = None) -> None:
        if best is not None:
            self.manifest.extra["val"] = best
        module.teacher.save(out_dir, self.manifest)  # type: ignore[union-attr]


def validate_teacher(teacher: CrossLingualTeacher, pairs: list[tuple[Caption, Caption]],
                     batch_size: int = 256) -> dict[str, float]:
    """Target→English retrieval on (English, human target) pairs, by the metric engine `eval` uses."""
    from cl2cm.retrieval.metrics import evaluate_text_to_visual

    q = teacher.encode_text([t.text for _, t in pairs], batch_size)
    g = teacher.encode_source([s.text for s, _ in pairs], batch_size)
    ids = [t.id for _, t in pairs]
    m, _ = evaluate_text_to_visual(q, ids, g, ids)
    t2e, e2t = m["t2v"], m["v2t"]
    return {"val_r1": t2e["R@1"], "val_r5": t2e["R@5"], "val_r10": t2e["R@10"],
            "val_rsum": t2e["R@1"] + t2e["R@5"] + t2e["R@10"], "val_medr": t2e["MedR"],
            "val_e2t_r1": e2t["R@1"], "val_sumr": m["SumR"]}


# ---------------------------------------------------------------------------------------------- entry point
@dataclass
class TeacherResult:
    out_dir: Path
    pairs: int
    val_pairs: int
    fit: FitResult
    trainable_params: int
    total_params: int
    trained_layers: str = ""  # what --train-layers resolved to, e.g. "3-11 of 12 (auto)"
    extra: dict[str, Any] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)
    pairs_per_language: dict[str, int] = field(default_factory=dict)


def _pair_tokens(cache: Path, teacher: CrossLingualTeacher, pairs: Pairs, write: bool) -> PairTokens:
    """Both sides tokenised once (cached in OUT/checkpoints for a resume)."""
    key = cache_key(pairs, teacher.config.text.encoder, teacher.config.text.max_length,
                    tokenizer_fingerprint(teacher.tokenizer), teacher.config.languages)

    def build() -> dict[str, torch.Tensor]:
        src_ids, src_len = tokenize_corpus(teacher.src, [s.text for s, _ in pairs])
        tgt_ids, tgt_len = tokenize_corpus(teacher.tgt, [t.text for _, t in pairs])
        return PairTokens(src_ids, src_len, tgt_ids, tgt_len, group_ids([t.image for _, t in pairs])).to_tensors()

    return PairTokens(**cached(cache / f"tokens-{key}.safetensors", build, write=write))


def train_teacher(src: str | Path, tgt: str | Path | Sequence[str | Path], out_dir: str | Path,
                  config: TrainTeacherConfig | None = None, *, val_src: str | Path | None = None,
                  val_tgt: str | Path | Sequence[str | Path] | None = None,
                  progress: Progress | None = None) -> TeacherResult:
    """Read and pair the corpora, tokenise once, train with the shared engine, write the teacher directory.

    Several `tgt` files (one per language, each paired with `src` by id) train one teacher for all of
    them; several `val_tgt` files validate each language, and their mean selects the best epoch.
    """
    config = config or TrainTeacherConfig()
    options, train, fmt, max_pairs, max_val = config.options, config.train, config.fmt, config.max_pairs, config.max_val
    options.check()
    if not active(TEACHER_LOSSES, options):  # also refuses an unknown --loss name or a bad weight, before any work
        raise ConfigError("every loss term is off ({nce_weight}, {triplet_weight}, {ot_weight}, {losses}): "
                          "nothing to train")
    train.validate_values()
    if (val_src is None) != (val_tgt is None):
        raise ConfigError("{val_src} and {val_tgt} go together (English and human target captions of one split)")
    if max_pairs is not None and max_pairs < 2:
        raise ConfigError("{max_pairs} {value}: must be at least 2", value=max_pairs)
    train_pairs = read_language_pairs(src, tgt, fmt, max_pairs=max_pairs)
    pairs = train_pairs.pairs
    val_pairs = (read_language_pairs(val_src, val_tgt, fmt, src_flag="--val-src", tgt_flag="--val-tgt", minimum=1,
                                     max_pairs=max_val) if val_src and val_tgt else None)
    val = ({code: val_pairs.of(i) for i, code in enumerate(val_pairs.languages)} if val_pairs else None)
    languages = train_pairs.languages
    out_dir = Path(out_dir)
    is_main = is_main_process()
    # a fresh OUT that fails on a user mistake before its first checkpoint is removed again (caches and all)
    cleanup = removed_if_left_empty(out_dir, resumable=f"{CKPT_DIR}/{LAST}") if is_main else contextlib.nullcontext()
    lock = output_lock(out_dir) if is_main else contextlib.nullcontext()
    with cleanup, lock:
        seed_everything(train.seed)
        teacher = CrossLingualTeacher(TeacherConfig(text=options.text, shared=options.shared, languages=languages))
        tokens = _pair_tokens(out_dir / CKPT_DIR, teacher, pairs, write=is_main)
        inputs: dict[str, str | Path] = {"--src": src, **language_inputs("--tgt", tgt, languages)}
        if val_src and val_tgt and val_pairs:
            inputs.update({"--val-src": val_src, **language_inputs("--val-tgt", val_tgt, val_pairs.languages)})
        opts = asdict(options)
        n_val = len(val_pairs.pairs) if val_pairs else 0
        manifest = Manifest(kind="teacher", rows=len(pairs), inputs=checksum_inputs(inputs),
                            model={"languages": languages},
                            extra={"train": asdict(train), "options": opts, "val_pairs": n_val,
                                   "trained_layers": teacher.src.trained_layers_text,
                                   "languages": languages, "pairs_per_language": train_pairs.counts(),
                                   "language_imbalance": train_pairs.imbalance()})
        task = TeacherTask(teacher, tokens, options, val=val, manifest=manifest,
                           languages=train_pairs.language if len(languages) > 1 else None)
        if is_main and not config.resume:
            remove_manifest(out_dir)  # only once every input and option has been checked
        result = fit(task, train, out_dir, resume=config.resume, progress=progress,
                     keep_checkpoints=config.keep_checkpoints)
    n_train = sum(p.numel() for p in task.net.parameters() if p.requires_grad)
    n_all = sum(p.numel() for p in task.net.parameters())
    return TeacherResult(out_dir=out_dir, pairs=len(pairs), val_pairs=n_val, fit=result,
                         trainable_params=n_train, total_params=n_all, trained_layers=teacher.src.trained_layers_text,
                         languages=languages, pairs_per_language=train_pairs.counts())
