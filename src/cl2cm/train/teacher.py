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
from cl2cm.artifacts.lock import output_lock
from cl2cm.artifacts.manifest import Manifest, checksum_inputs, remove_manifest
from cl2cm.errors import ConfigError
from cl2cm.losses import InfoNCE, TripletLoss, WordAlignmentLoss, same_group_mask
from cl2cm.models.teacher import CrossLingualTeacher, TeacherConfig
from cl2cm.models.text import TextEncoderConfig
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
from cl2cm.train.dist import all_gather_nograd, all_gather_with_grad, is_main_process
from cl2cm.train.engine import CKPT_DIR, FitResult, TrainStageConfig, TrainTask, fit, option


@dataclass
class TeacherOptions:
    """Model and loss settings of `train-teacher` (the optimiser's are in `TrainConfig`): each field's help
    and flag in its metadata (`cl2cm.train.engine.option`), which the CLI reads."""

    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)  # its fields are flags of their own
    shared: bool = option(True, "One encoder for both languages, or two towers.", flag="--shared-encoder")
    temperature: float = option(0.07, "InfoNCE temperature τ.", flag="--temperature")  # [ours, CCLM/LECCR's 0.07]
    learnable_temperature: bool = option(False, "Learn τ (CLIP-style).", flag="--learnable-temperature")
    nce_weight: float = option(1.0, "Weight of sentence InfoNCE.", flag="--nce-weight")
    triplet_weight: float = option(0.0, "Weight of the VSE++ hardest-negative triplet loss (0 = off).",
                                   flag="--triplet-weight")  # NRCCR's VSE++ loss as an option
    margin: float = option(0.2, "Triplet margin.", flag="--margin")  # [NRCCR]
    ot_weight: float = option(0.1, "λ of word-level OT alignment (0 = off).", flag="--ot-weight")  # λ_ot [ours]
    ot_eps: float = option(0.05, "Sinkhorn entropic regularisation ε.", flag="--ot-eps")  # [ours]
    ot_iters: int = option(50, "Sinkhorn iterations.", flag="--ot-iters")  # [ours]

    def check(self) -> None:
        for name in ("nce_weight", "triplet_weight", "ot_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{{{name}}} {{value}}: must be >= 0", value=getattr(self, name))
        if self.nce_weight == 0 and self.triplet_weight == 0:
            raise ConfigError("{nce_weight} and {triplet_weight} are both 0: no sentence-level loss to train")
        if self.temperature <= 0:
            raise ConfigError("{temperature} {value}: must be positive", value=self.temperature)
        if self.ot_eps <= 0 or self.ot_iters < 1:
            raise ConfigError("{ot_eps} {eps} / {ot_iters} {iters}: need eps > 0 and iters >= 1",
                              eps=self.ot_eps, iters=self.ot_iters)


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
    """The teacher plus the loss's own parameters (a learnable temperature), optimised together."""

    def __init__(self, teacher: CrossLingualTeacher, nce: InfoNCE) -> None:
        super().__init__()
        self.teacher = teacher
        self.nce = nce

    def forward(self, src_ids: torch.Tensor, src_mask: torch.Tensor, tgt_ids: torch.Tensor,
                tgt_mask: torch.Tensor) -> Any:
        return self.teacher(src_ids, src_mask, tgt_ids, tgt_mask)


class TeacherTask(TrainTask):
    metric = "val_rsum"

    def __init__(self, teacher: CrossLingualTeacher, tokens: PairTokens, options: TeacherOptions, *,
                 val: dict[str, Pairs] | None = None, manifest: Manifest | None = None,
                 val_batch_size: int = 256, languages: torch.Tensor | None = None) -> None:
        self.net = TeacherTrainModule(teacher, InfoNCE(options.temperature, options.learnable_temperature))
        self.tokens = tokens
        self.options = options
        self.triplet = TripletLoss(options.margin)
        self.ot = WordAlignmentLoss(options.ot_eps, options.ot_iters)
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
                "options": asdict(self.options)}

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
        o = self.options
        src, tgt = model(batch["src_ids"], batch["src_mask"], batch["tgt_ids"], batch["tgt_mask"])
        es, et = all_gather_with_grad(src.emb), all_gather_with_grad(tgt.emb)
        pos = same_group_mask(all_gather_nograd(batch["groups"]))
        terms: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=es.device)
        if o.nce_weight > 0:
            terms["nce"] = self.net.nce(et, es, pos)
            total = total + o.nce_weight * terms["nce"]
        if o.triplet_weight > 0:
            terms["triplet"] = self.triplet(et, es, pos)
            total = total + o.triplet_weight * terms["triplet"]
        if o.ot_weight > 0:
            terms["ot"] = self.ot(src.tokens, src.token_mask, tgt.tokens, tgt.token_mask)
            total = total + o.ot_weight * terms["ot"]
        out = {"loss": total, **{k: v.detach() for k, v in terms.items()}}
        if o.learnable_temperature:
            out["temperature"] = torch.tensor(self.net.nce.temperature)
        return out

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


def _pair_tokens(cache: Path, teacher: CrossLingualTeacher, pairs: Pairs, write: bool) -> PairTokens:
    """Both sides tokenised once (cached in OUT/checkpoints for a resume)."""
    key = cache_key(pairs, teacher.config.text.encoder, teacher.config.text.max_length, teacher.tokenizer.vocab_size,
                    teacher.config.languages)

    def build() -> dict[str, torch.Tensor]:
        src_ids, src_len = tokenize_corpus(teacher.src, [s.text for s, _ in pairs])
        tgt_ids, tgt_len = tokenize_corpus(teacher.tgt, [t.text for _, t in pairs])
        return PairTokens(src_ids, src_len, tgt_ids, tgt_len, group_ids([t.image for _, t in pairs])).to_tensors()

    return PairTokens(**cached(cache / f"tokens-{key}.safetensors", build, write=write))


@dataclass
class TrainTeacherConfig(TrainStageConfig):
    """Everything `train-teacher` takes besides its inputs and output directory."""

    options: TeacherOptions = field(default_factory=TeacherOptions)  # model and loss


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
    lock = output_lock(out_dir) if is_main else contextlib.nullcontext()
    with lock:
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
                                   "languages": languages, "pairs_per_language": train_pairs.counts()})
        task = TeacherTask(teacher, tokens, options, val=val, manifest=manifest,
                           languages=train_pairs.language if len(languages) > 1 else None)
        if is_main and not config.resume:
            remove_manifest(out_dir)  # only once every input and option has been checked
        result = fit(task, train, out_dir, resume=config.resume, progress=progress)
    n_train = sum(p.numel() for p in task.net.parameters() if p.requires_grad)
    n_all = sum(p.numel() for p in task.net.parameters())
    return TeacherResult(out_dir=out_dir, pairs=len(pairs), val_pairs=n_val, fit=result,
                         trainable_params=n_train, total_params=n_all, trained_layers=teacher.src.trained_layers_text,
                         languages=languages)
