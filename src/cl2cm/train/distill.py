"""Stage 2 of CL2CM: train the cross-modal student with knowledge transferred from the frozen teacher.

A batch holds B pseudo pairs (image v_i, English caption s_i, its translation t_i); under DDP the rows of
all ranks. With the student's embeddings t (target), v (visual), e (English, only when w_en > 0) and the
teacher's t̂, ŝ (precomputed once: the teacher is frozen):

    L = w_vt · InfoNCE(t, v; pos = same image)            the pseudo pairs (noisy: MT text)
      + w_en · InfoNCE(e, v; pos)                         optional, NRCCR trains one
      + w_kt · L_kt(t, v; t̂, ŝ)                          relational transfer, `cl2cm.losses.transfer`

`transfer=False` (`--no-transfer`) drops the last term and changes nothing else: the paper's ablation.
Defaults w_vt = w_kt = 0.5 and τ_kt = 0.1 follow C2KD (``--balance 0.5 --distill_temp 0.1``); the CL2CM
paper's values were not available, so they are our choice.

The teacher never trains here: it is loaded in eval mode with requires_grad False, its embeddings of every
training caption are computed once under inference_mode before the first step, and it is neither part of
the optimised module nor of the checkpoint. Validation ranks the images of `--val-features` for each human
target caption (`--val-captions`) with the metric engine of `eval`; SumR selects the best epoch.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from cl2cm.artifacts.captions import Caption, read_captions, unique_languages
from cl2cm.artifacts.io import atomic_write_json, removed_if_left_empty, sha256_text
from cl2cm.artifacts.leakage import training_record, write_training_items
from cl2cm.artifacts.lock import output_lock
from cl2cm.artifacts.manifest import Manifest, checksum_inputs, read_manifest, remove_manifest
from cl2cm.artifacts.store import EmbeddingStore, load_store
from cl2cm.config.distill import SAMPLING, DistillConfig, DistillOptions  # noqa: F401  (the configs' home)
from cl2cm.distributed import is_main_process
from cl2cm.errors import ConfigError, UserError
from cl2cm.losses.contrastive import same_group_mask
from cl2cm.losses.registry import STUDENT_LOSSES, active
from cl2cm.losses.terms import LossInputs, build_terms, needs, sum_terms
from cl2cm.models.student import (
    VISUAL_HEADS,
    Student,
    StudentConfig,
    student_text_config,
    visual_rows,
)
from cl2cm.models.teacher import CrossLingualTeacher
from cl2cm.models.text import tokenizer_fingerprint
from cl2cm.progress import Progress
from cl2cm.runtime import resolve_device, seed_everything
from cl2cm.train.data import (
    IndexDataset,
    Pairs,
    as_paths,
    cache_key,
    cached,
    file_language,
    group_ids,
    language_imbalance,
    language_inputs,
    per_language_metrics,
    read_language_pairs,
    tokenize_corpus,
    trim,
)
from cl2cm.train.dist import all_gather_nograd, all_gather_with_grad
from cl2cm.train.engine import CKPT_DIR, LAST, FitResult, TrainTask, fit

RUN_FILE = "distill.json"  # in checkpoints/: what the run was started on (visual model, input, shape)


# ---------------------------------------------------------------------------------------------- data
@dataclass
class DistillData:
    """Everything a training step reads, prepared once: tokens, store rows, teacher embeddings."""

    tgt_ids: torch.Tensor  # [P, L] int32
    tgt_len: torch.Tensor  # [P]
    rows: torch.Tensor  # [P] long: the store row of each pair's image
    groups: torch.Tensor  # [P] long: image group (positive mask)
    visual: torch.Tensor  # [N, D] / [N, T, W] / [N, K, D]
    visual_mask: torch.Tensor | None
    src_ids: torch.Tensor | None = None  # English tokens, only for --en-weight > 0
    src_len: torch.Tensor | None = None
    teacher_tgt: torch.Tensor | None = None  # [P, Dt] float16, only with transfer
    teacher_src: torch.Tensor | None = None


def store_rows(pairs: list[tuple[Caption, Caption]], store: EmbeddingStore, *, captions_flag: str,
               store_flag: str) -> torch.Tensor:
    """The store row of each caption's image; an image missing from the store is an error naming the first."""
    from cl2cm.retrieval.metrics import gallery_index

    return gallery_index([t.image for _, t in pairs], store.ids, query_name=f"captions of {captions_flag}",
                         gallery_name=f"the {store_flag} store")


@torch.inference_mode()
def teacher_embeddings(teacher: CrossLingualTeacher, pairs: list[tuple[Caption, Caption]], batch_size: int = 256
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """t̂ (target tower on the translations) and ŝ (source tower on the English), once per corpus."""
    tgt = teacher.encode_text([t.text for _, t in pairs], batch_size)
    src = teacher.encode_source([s.text for s, _ in pairs], batch_size)
    return tgt.half(), src.half()


# ---------------------------------------------------------------------------------------------- task
class DistillModule(nn.Module):
    """The student plus the loss terms' own state; the only module the engine optimises and checkpoints."""

    def __init__(self, student: Student, losses: nn.ModuleDict) -> None:
        super().__init__()
        self.student = student
        self.losses = losses

    def forward(self, tgt_ids: torch.Tensor, tgt_mask: torch.Tensor, visual: torch.Tensor,
                visual_mask: torch.Tensor | None = None, src_ids: torch.Tensor | None = None,
                src_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        t = self.student.forward_text(tgt_ids, tgt_mask)
        v = self.student.forward_visual(visual, visual_mask)
        e = self.student.forward_text(src_ids, src_mask) if src_ids is not None else None
        return t, v, e


class DistillTask(TrainTask):
    metric = "val_sumr"

    def __init__(self, student: Student, data: DistillData, options: DistillOptions, *,
                 val: tuple[dict[str, list[Caption]], EmbeddingStore] | None = None,
                 manifest: Manifest | None = None, val_batch_size: int = 256,
                 languages: torch.Tensor | None = None, training_items: dict[str, torch.Tensor] | None = None
                 ) -> None:
        self.weights, terms = build_terms(STUDENT_LOSSES, options)  # the configured terms: name → weight
        self.net = DistillModule(student, terms)
        self.training_items = training_items  # the leakage guard's record (`cl2cm.artifacts.leakage`)
        self.data = data
        self.options = options
        self.val = val
        self.languages = languages
        self.manifest = manifest or Manifest(kind="student")
        self.val_batch_size = val_batch_size
        if options.sampling == "image":  # CSR lists of the pairs of each image
            order = torch.argsort(data.groups, stable=True)
            counts = torch.bincount(data.groups)
            self._by_image = order
            self._offsets = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
        if not val:
            self.metric = None

    def module(self) -> nn.Module:
        return self.net

    def fingerprint(self) -> dict[str, Any]:
        """Training inputs (not validation ones), pairs and options: a resume on other ones is refused."""
        train_inputs = {k: v for k, v in self.manifest.inputs.items() if not k.startswith("--val")}
        options = asdict(self.options)
        if options["head_lr"] is None:  # unset: the fingerprint of checkpoints written before the field existed
            del options["head_lr"]
        found = {"inputs": train_inputs, "pairs": int(len(self.data.rows)), "options": options}
        net = getattr(self, "net", None)  # (a task built field by field, as a test does, has no model)
        if net is not None:
            found["tokenizer"] = tokenizer_fingerprint(net.student.tokenizer)
        return found

    def lr_overrides(self) -> dict[str, float]:
        """`head_lr` for the visual head's parameters (`DistillModule.student.visual`)."""
        return {} if self.options.head_lr is None else {"student.visual": self.options.head_lr}

    def train_dataset(self) -> Dataset:
        n = len(self._offsets) - 1 if self.options.sampling == "image" else len(self.data.rows)
        return IndexDataset(n)

    def _pairs_of(self, items: list[int]) -> torch.Tensor:
        idx = torch.tensor(items, dtype=torch.long)
        if self.options.sampling == "caption":
            return idx
        lo, hi = self._offsets[idx], self._offsets[idx + 1]
        pick = lo + (torch.rand(len(items)) * (hi - lo)).long().clamp_max(hi - lo - 1)
        return self._by_image[pick]

    def collate(self, items: list[int]) -> dict[str, torch.Tensor]:
        d = self.data
        idx = self._pairs_of(items)
        tgt_ids, tgt_mask = trim(d.tgt_ids[idx], d.tgt_len[idx])
        rows = d.rows[idx]
        batch = {"tgt_ids": tgt_ids, "tgt_mask": tgt_mask, "visual": d.visual[rows].float(), "groups": d.groups[idx]}
        if d.visual_mask is not None:
            batch["visual_mask"] = d.visual_mask[rows]
        if d.src_ids is not None and d.src_len is not None:
            batch["src_ids"], batch["src_mask"] = trim(d.src_ids[idx], d.src_len[idx])
        if d.teacher_tgt is not None and d.teacher_src is not None:
            batch["teacher_tgt"], batch["teacher_src"] = d.teacher_tgt[idx], d.teacher_src[idx]
        return batch

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        t, v, e = model(batch["tgt_ids"], batch["tgt_mask"], batch["visual"], batch.get("visual_mask"),
                        batch.get("src_ids"), batch.get("src_mask"))
        x = LossInputs(target=all_gather_with_grad(t), visual=all_gather_with_grad(v),
                       positives=same_group_mask(all_gather_nograd(batch["groups"])))
        if e is not None:
            x.english = all_gather_with_grad(e)
        if "teacher_tgt" in batch:
            x.teacher_target = all_gather_nograd(batch["teacher_tgt"]).float()
            x.teacher_english = all_gather_nograd(batch["teacher_src"]).float()
        return sum_terms(self.weights, self.net.losses, x)

    def validate(self, module: nn.Module) -> dict[str, float]:
        if not self.val:
            return {}
        captions, store = self.val
        return per_language_metrics({code: validate_student(module.student, caps, store,  # type: ignore[arg-type]
                                                            batch_size=self.val_batch_size)
                                     for code, caps in captions.items()})

    def train_languages(self) -> torch.Tensor | None:
        return self.languages

    def save(self, module: nn.Module, out_dir: Path, best: dict[str, float] | None = None) -> None:
        if best is not None:
            self.manifest.extra["val"] = best
        remove_manifest(out_dir)  # the items file belongs to the manifest written after it
        if self.training_items is not None:
            write_training_items(out_dir, self.training_items)
        module.student.save(out_dir, self.manifest)  # type: ignore[union-attr]


def validate_student(student: Student, captions: list[Caption], store: EmbeddingStore, *,
                     batch_size: int = 256) -> dict[str, float]:
    """Text→visual and visual→text recall of human target captions against the validation images."""
    from cl2cm.retrieval.metrics import evaluate_text_to_visual

    q = student.encode_text([c.text for c in captions], batch_size)
    g = student.encode_store(store)
    m, _ = evaluate_text_to_visual(q, [c.image for c in captions], g, store.ids)
    t2v, v2t = m["t2v"], m["v2t"]
    return {"val_t2v_r1": t2v["R@1"], "val_t2v_r5": t2v["R@5"], "val_t2v_r10": t2v["R@10"],
            "val_v2t_r1": v2t["R@1"], "val_v2t_r5": v2t["R@5"], "val_v2t_r10": v2t["R@10"],
            "val_medr": t2v["MedR"], "val_sumr": m["SumR"]}


# ---------------------------------------------------------------------------------------------- entry point
@dataclass
class DistillResult:
    out_dir: Path
    pairs: int
    images: int
    val_captions: int
    fit: FitResult
    transfer: bool
    head: str
    visual_input: str
    trainable_params: int
    trained_layers: str = ""  # what --train-layers (or the teacher's) resolved to, e.g. "3-11 of 12 (auto)"
    extra: dict[str, Any] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)
    pairs_per_language: dict[str, int] = field(default_factory=dict)


def _resolve_head(options: DistillOptions, x: torch.Tensor) -> tuple[str, int]:
    """(head name, sequence length) for the visual tensor the student reads."""
    seq = x.dim() == 3
    head = options.head
    if head == "auto":
        head = ("flat" if options.visual_input == "tokens" else "temporal") if seq else "mlp"
    reads_sequence = VISUAL_HEADS[head][1]
    if reads_sequence and not seq:
        raise ConfigError("{head} {value} reads [N, T, W] rows (patch tokens or frames); the store gives pooled "
                          "[N, D] features (use {visual_input} tokens, or {head} mlp)", value=head)
    if seq and not reads_sequence:
        raise ConfigError("{head} {value} reads pooled [N, D] rows; for [N, T, W] rows use {head} flat or "
                          "tokens (patch tokens), or {head} temporal (frames)", value=head)
    return head, int(x.shape[1]) if seq else 0


def _visual_signature(store: EmbeddingStore, visual_input: str, x: torch.Tensor) -> dict[str, Any]:
    model = dict(store.manifest.model) if store.manifest is not None else {}
    return {"model": model, "visual_input": visual_input, "shape": list(x.shape[1:])}


def visual_encoder(store: EmbeddingStore) -> dict[str, Any]:
    """What a student records to rebuild its store's visual encoder (`Student.encode_images`)."""
    extra = store.manifest.extra if store.manifest is not None else {}
    if "encoder" not in extra:
        return {}
    return {"encoder": extra["encoder"], "normalized": extra.get("normalized", True),
            "max_pixels": extra.get("max_pixels")}


def _check_signature(have: dict[str, Any], want: dict[str, Any], flag: str, path: str | Path) -> None:
    if have["model"] != want["model"]:
        raise UserError(f"{flag}: made with visual model {have['model']!r}, the student was trained on "
                        f"{want['model']!r}", path=path)
    if have["shape"] != want["shape"]:
        raise UserError(f"{flag}: {want['visual_input']} rows of shape {have['shape']}, the student reads "
                        f"{want['shape']}", path=path)


@dataclass
class _Inputs:
    """Everything read and checked before any work: the visual rows, the pairs, validation, the head."""

    store: EmbeddingStore
    x: torch.Tensor
    x_mask: torch.Tensor | None
    signature: dict[str, Any]
    pairs: Pairs
    rows: torch.Tensor
    val: tuple[dict[str, list[Caption]], EmbeddingStore] | None  # captions per language code
    head: str
    seq_len: int
    languages: list[str] = field(default_factory=list)  # --tgt codes, in order
    language: torch.Tensor | None = None  # [P] each pair's index into `languages`
    pairs_per_language: dict[str, int] = field(default_factory=dict)

    @property
    def val_captions(self) -> int:
        return sum(len(c) for c in self.val[0].values()) if self.val else 0

    @property
    def images(self) -> int:
        return int(len(set(self.rows.tolist())))


def distill(teacher_dir: str | Path, features: str | Path, src: str | Path, tgt: str | Path | Sequence[str | Path],
            out_dir: str | Path, config: DistillConfig | None = None, *, val_features: str | Path | None = None,
            val_captions: str | Path | Sequence[str | Path] | None = None,
            progress: Progress | None = None) -> DistillResult:
    """Read the corpora and stores, precompute the frozen teacher, train the student, write its directory.

    Several `tgt` files (one per language) train one student for all of them, the transfer coming from
    the (multilingual) teacher on every pair; several `val_captions` files validate each language and
    their mean SumR selects the best epoch.
    """
    config = config or DistillConfig()
    options, train = config.options, config.train
    options.check()
    task_weights = active(STUDENT_LOSSES, options)  # also refuses an unknown --loss name
    if not task_weights:
        raise ConfigError("{vt_weight}, {en_weight} and the transfer are all off: nothing to train")
    train.validate_values()
    if (val_features is None) != (val_captions is None):
        raise ConfigError("{val_features} and {val_captions} go together (validation images and their human "
                          "target-language captions)")
    if config.max_pairs is not None and config.max_pairs < 2:
        raise ConfigError("{max_pairs} {value}: must be at least 2", value=config.max_pairs)
    out_dir = Path(out_dir)
    inp = _read_inputs(teacher_dir, features, src, tgt, out_dir, config, val_features, val_captions)
    is_main = is_main_process()
    # a fresh OUT that fails on a user mistake before its first checkpoint is removed again (caches and all)
    cleanup = removed_if_left_empty(out_dir, resumable=f"{CKPT_DIR}/{LAST}") if is_main else contextlib.nullcontext()
    with cleanup, output_lock(out_dir) if is_main else contextlib.nullcontext():
        seed_everything(train.seed)
        teacher = CrossLingualTeacher.from_dir(teacher_dir, resolve_device(train.device))
        teacher.requires_grad_(False).eval()  # frozen: no gradient, no optimizer state, no dropout
        student = _build_student(teacher, teacher_dir, options, inp)
        data = _prepare_data(out_dir / CKPT_DIR, teacher, teacher_dir, student, options, inp, write=is_main)
        del teacher  # only its embeddings are needed from here on
        if is_main:
            atomic_write_json(out_dir / CKPT_DIR / RUN_FILE, inp.signature)
        inputs: dict[str, str | Path] = {"--teacher": teacher_dir, "--features": features, "--src": src,
                                         **language_inputs("--tgt", tgt, inp.languages)}
        if val_features is not None and val_captions is not None and inp.val:
            inputs.update({"--val-features": val_features,
                           **language_inputs("--val-captions", val_captions, list(inp.val[0]))})
        training_store, training_items = training_record(inp.store, features)
        manifest = Manifest(kind="student", rows=len(inp.pairs), inputs=checksum_inputs(inputs),
                            model={"languages": inp.languages},
                            extra={"training_store": training_store,
                                   "train": asdict(train), "options": asdict(options), "head": inp.head,
                                   "transfer": "kt" in task_weights, "images": inp.images,
                                   "val_captions": inp.val_captions, "languages": inp.languages,
                                   "pairs_per_language": inp.pairs_per_language,
                                   "language_imbalance": language_imbalance(inp.pairs_per_language),
                                   "trained_layers": student.text.trained_layers_text})
        several = len(inp.languages) > 1 and options.sampling == "caption"
        task = DistillTask(student, data, options, val=inp.val, manifest=manifest,
                           languages=inp.language if several else None, training_items=training_items)
        if is_main and not config.resume:
            remove_manifest(out_dir)  # only once every input and option has been checked
        result = fit(task, train, out_dir, resume=config.resume, progress=progress,
                     keep_checkpoints=config.keep_checkpoints)
    n_train = sum(p.numel() for p in task.net.parameters() if p.requires_grad)
    return DistillResult(out_dir=out_dir, pairs=len(inp.pairs), images=inp.images,
                         val_captions=inp.val_captions, fit=result, transfer="kt" in task.weights,
                         head=inp.head, visual_input=options.visual_input, trainable_params=n_train,
                         trained_layers=student.text.trained_layers_text, languages=inp.languages,
                         pairs_per_language=inp.pairs_per_language)


def _read_inputs(teacher_dir: str | Path, features: str | Path, src: str | Path,
                 tgt: str | Path | Sequence[str | Path], out_dir: Path, config: DistillConfig,
                 val_features: str | Path | None, val_captions: str | Path | Sequence[str | Path] | None) -> _Inputs:
    """Every input read and cross-checked (teacher kind, store model and shape, ids), before any work."""
    options = config.options
    run_path = out_dir / CKPT_DIR / RUN_FILE
    read_manifest(teacher_dir, kind="teacher")
    before = json.loads(run_path.read_text(encoding="utf-8")) if config.resume and run_path.exists() else None
    store = load_store(features, kind="features", flag="--features",
                       expect_model=(before["model"] or None) if before else None,
                       expect_dim=before["shape"][-1] if before and before["visual_input"] == "features" else None)
    x, x_mask = visual_rows(store, options.visual_input, field="features")
    signature = _visual_signature(store, options.visual_input, x)
    if before is not None:  # a resumed run must read the very visual rows its checkpoint was trained on
        _check_signature(signature, before, "--features", features)
    # without transfer the English captions may be the target: an English student (translate-test)
    train_pairs = read_language_pairs(src, tgt, config.fmt, max_pairs=config.max_pairs,
                                      same_language=not options.transfer)
    pairs = train_pairs.pairs
    rows = store_rows(pairs, store, captions_flag="--tgt", store_flag="--features")
    val = None
    if val_features is not None and val_captions is not None:
        vstore = load_store(val_features, kind="features", flag="--val-features",
                            expect_model=signature["model"] or None,
                            expect_dim=x.shape[-1] if options.visual_input == "features" else None)
        vx, _ = visual_rows(vstore, options.visual_input, field="val_features")
        _check_signature(_visual_signature(vstore, options.visual_input, vx), signature, "--val-features",
                         val_features)
        val = (read_val_captions(val_captions, config.fmt, config.max_val, vstore), vstore)
    head, seq_len = _resolve_head(options, x)
    return _Inputs(store, x, x_mask, signature, pairs, rows, val, head, seq_len, languages=train_pairs.languages,
                   language=train_pairs.language, pairs_per_language=train_pairs.counts())


def read_val_captions(paths: str | Path | Sequence[str | Path], fmt: str | None, max_val: int | None,
                      store: EmbeddingStore) -> dict[str, list[Caption]]:
    """The human validation captions of each language (first `max_val` of each file), their images checked."""
    files = as_paths(paths)
    val: dict[str, list[Caption]] = {}
    codes: list[str] = []
    for path in files:
        caps = read_captions(path, fmt)[:max_val]
        codes.append(file_language(caps, path, "--val-captions", several=len(files) > 1))
        flag = f"--val-captions {path}" if len(files) > 1 else "--val-captions"
        store_rows([(c, c) for c in caps], store, captions_flag=flag, store_flag="--val-features")
        val[codes[-1]] = caps
    unique_languages(codes, files, "--val-captions")
    return val


def _build_student(teacher: CrossLingualTeacher, teacher_dir: str | Path, options: DistillOptions,
                   inp: _Inputs) -> Student:
    """A fresh student for the store's visual rows, its text side configured after the teacher's."""
    text_cfg = student_text_config(teacher.config.text, dim=options.dim, train_layers=options.train_layers)
    config = StudentConfig(text=text_cfg, head=inp.head, visual_input=options.visual_input,
                           visual_dim=int(inp.x.shape[-1]), visual_len=inp.seq_len, hidden=options.hidden,
                           dropout=options.dropout, visual_model=inp.signature["model"],
                           visual_encoder=visual_encoder(inp.store), languages=inp.languages)
    if options.feat_weight > 0 and "kt" in active(STUDENT_LOSSES, options) and text_cfg.dim != teacher.dim:
        raise ConfigError(f"{{feat_weight}} needs {{dim}} {teacher.dim} (the teacher's dimension), got {text_cfg.dim}")
    return Student.from_teacher(teacher, teacher_dir, config, init_text=options.init_text)


def _prepare_data(ckpt: Path, teacher: CrossLingualTeacher, teacher_dir: str | Path, student: Student,
                  options: DistillOptions, inp: _Inputs, *, write: bool) -> DistillData:
    """Tokens (student tokenizer) and the frozen teacher's embeddings, once; both cached for a resume."""
    pairs = inp.pairs
    text_cfg = student.config.text
    wanted = needs(STUDENT_LOSSES, options)  # what the configured loss terms read besides text and visual
    key = cache_key(pairs, text_cfg.encoder, text_cfg.max_length, tokenizer_fingerprint(student.tokenizer),
                    "english" in wanted)

    def tokens() -> dict[str, torch.Tensor]:
        ids, lens = tokenize_corpus(student.text, [t.text for _, t in pairs])
        out = {"tgt_ids": ids, "tgt_len": lens}
        if "english" in wanted:
            out["src_ids"], out["src_len"] = tokenize_corpus(student.text, [s.text for s, _ in pairs])
        return out

    def embeddings() -> dict[str, torch.Tensor]:
        return dict(zip(("teacher_tgt", "teacher_src"), teacher_embeddings(teacher, pairs), strict=True))

    token_tensors = cached(ckpt / f"tokens-{key}.safetensors", tokens, write=write)
    teacher_emb: dict[str, torch.Tensor] = {}
    if "teacher" in wanted:
        tkey = sha256_text(key + str(checksum_inputs({"t": teacher_dir})["t"]))[:16]
        teacher_emb = cached(ckpt / f"teacher-{tkey}.safetensors", embeddings, write=write)
    return DistillData(rows=inp.rows, groups=group_ids([t.image for _, t in pairs]), visual=inp.x,
                       visual_mask=inp.x_mask, **token_tensors, **teacher_emb)
