"""One command that measures a GPU machine: every stage at real architecture sizes, random weights.

GPU time is rare and short here, so this script is prepared to run unattended in one call and to leave a
JSON even when a section fails or the call is cut short (the JSON is rewritten after every section):

* ``eval``          exact ranks of 1M queries × 1M gallery, dim 512, fp32 and fp16 (`--half`), through
                    `cl2cm.retrieval.metrics.compute_ranks`; and the GEMM-only floor (the same score blocks,
                    nothing else) on the same device.
* ``translate``     an opus-mt-en-de-sized Marian (6+6 layers, d_model 512, vocab 58,101) from config,
                    random weights, EOS suppressed so every sentence decodes exactly its length budget (the
                    work is fixed whatever the weights): naive HF generate (input order, batch 16) vs our
                    `translate_corpus` with the hf backend vs ``--backend ct2`` (when ctranslate2 imports).
                    20,000 Multi30K captions when ../shared is there, else generated sentences.
* ``extract``       ViT-B/32 ``--pretrained none`` over ≥ 5,000 500×375 JPEGs written to disk first:
                    `extract_features` end to end (its loop) vs the model alone on a resident batch.
* ``train_teacher`` mBERT-size BERT (12 layers, 768, vocab 119,547) random init through `train_teacher`,
                    bf16 AMP on CUDA, batch 128, max length 64: pairs/s and the share of step time outside
                    forward/backward.
* ``distill``       the same text tower (the teacher just trained) + a head over 49×768 ViT-B/32 patch
                    tokens through `distill`: pairs/s.
* ``ddp``           (CUDA only) a one-process NCCL group initialises and one DDP step runs.

Every section is isolated: a failure records its error in the JSON and the next section runs.

    python benchmarks/gpu_check.py --json $OUT/gpu.json            # on the GPU machine (< 8 min on one H200)
    python benchmarks/gpu_check.py --tiny --device cpu --json g.json   # smoke run, tiny configs (CI, < 3 min)
    python benchmarks/gpu_check.py --only eval translate               # a subset
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

MULTI30K = REPO.parent / "shared" / "data" / "multi30k"


@dataclass
class Sizes:
    """How much work each section does; `FULL` is sized for < 8 min on one H200, `TINY` for a CPU smoke run."""

    eval_n: int
    eval_dim: int
    mt_sentences: int
    mt_naive_sentences: int  # the naive loop is timed on the first N (it is ~10x slower; rate reported)
    mt_shape: tuple[int, int, int, int, int]  # d_model, layers, heads, ffn, total vocabulary
    mt_max_tokens: int
    images: int
    image_size: tuple[int, int]
    vit: str  # open_clip name, or "tiny" for a tiny ViT config
    vit_batch: int
    workers: int
    bert: tuple[int, int, int, int, int]  # hidden, layers, heads, intermediate, total vocabulary
    train_layers: str  # the real recipe trains mBERT layers 3-11 (NRCCR); tiny BERTs have 2 layers
    batch: int
    max_length: int
    train_steps: int
    pairs: int
    search_n: int = 1_000_000  # compact-exact top-k: queries = gallery rows
    search_dim: int = 512
    search_exact_queries: int = 65_536  # the fp32-first-pass baseline runs on the first N queries (rate reported)
    decode_images: int = 2_000  # JPEGs decoded by PIL (workers) and by torchvision on the device


FULL = Sizes(eval_n=1_000_000, eval_dim=512, mt_sentences=20_000, mt_naive_sentences=2_000,
             mt_shape=(512, 6, 8, 2048, 58_101), mt_max_tokens=65_536, images=10_000, image_size=(500, 375),
             vit="ViT-B-32", vit_batch=500, workers=min(14, max(1, (os.cpu_count() or 2) - 2)),
             bert=(768, 12, 12, 3072, 119_547), train_layers="3-11", batch=128, max_length=64, train_steps=30,
             pairs=128 * 40)
TINY = Sizes(eval_n=20_000, eval_dim=64, mt_sentences=200, mt_naive_sentences=64, mt_shape=(32, 1, 2, 64, 0),
             mt_max_tokens=4096, images=48, image_size=(500, 375), vit="tiny", vit_batch=16, workers=1,
             bert=(32, 2, 2, 64, 0), train_layers="all", batch=16, max_length=32, train_steps=3, pairs=64,
             search_n=4_000, search_dim=64, search_exact_queries=1_024, decode_images=48)


# ---------------------------------------------------------------------------------------------- helpers
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[Any, float]:
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - t0


_SUBJ = "a man|a woman|two dogs|a little girl|several men|a boy|an old woman|three children|a cyclist|a band".split("|")
_VERB = "is walking|are playing|is sitting|is climbing|are standing|is riding|is eating|are running|is holding".split("|")
_OBJ = ("a red ball|a wooden ladder|the blue bicycle|a small boat|some food|a guitar|the white fence|a large "
        "umbrella|a brown horse").split("|")
_WHERE = ("in the park|on the street|near the water|inside a building|at the beach|under a tree|in the snow|"
          "beside a busy road|on a stage").split("|")


CAPTIONS = [MULTI30K / "train.en"]  # --captions puts its file first


def _caption_lines(n: int) -> tuple[list[str], str] | None:
    """The first n lines of the first caption file that has n non-empty lines, and its path."""
    for path in CAPTIONS:
        if path.exists():
            lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
            if len(lines) >= n:
                return lines[:n], str(path)
    return None


def sentence_source(n: int) -> str:
    found = _caption_lines(n)
    return found[1] if found else "generated"


def sentences(n: int, seed: int = 0) -> list[str]:
    """Real English captions (--captions, else Multi30K's train.en in ../shared) when there are n of them,
    else generated captions of similar length."""
    found = _caption_lines(n)
    if found:
        return found[0]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s = f"{rng.choice(_SUBJ)} {rng.choice(_VERB)} {rng.choice(_OBJ)} {rng.choice(_WHERE)}"
        if rng.random() < 0.5:
            s += f" while {rng.choice(_SUBJ)} {rng.choice(_VERB)} {rng.choice(_OBJ)}"
        out.append(s[0].upper() + s[1:] + ".")
    return out


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------- sections
def section_eval(ctx: Ctx) -> dict[str, Any]:
    """Exact ranks N×N through the library's rank engine, fp32 and fp16; the GEMM-only floor beside each."""
    from cl2cm.retrieval.metrics import compute_ranks, default_chunk, retrieval_metrics

    dev, n, dim = ctx.device, ctx.sizes.eval_n, ctx.sizes.eval_dim
    gen = torch.Generator(device=dev).manual_seed(0)
    g = torch.nn.functional.normalize(torch.randn(n, dim, device=dev, generator=gen), dim=-1)
    q = torch.nn.functional.normalize(g + 0.5 * torch.randn(n, dim, device=dev, generator=gen), dim=-1)
    idx = torch.arange(n)
    res: dict[str, Any] = {"queries": n, "gallery": n, "dim": dim}
    for name, half in (("fp32", False), ("fp16", True)):
        compute_ranks(q[:4096], g[:4096], idx[:4096], device=dev, half=half)  # warm-up: kernels, allocator
        ranks, secs = timed(lambda h=half: compute_ranks(q, g, idx, device=dev, half=h), dev)
        metrics = retrieval_metrics(ranks)
        dtype = (torch.float16 if dev.type == "cuda" else torch.bfloat16) if half else torch.float32
        step = default_chunk(n, dev)
        gt = g.to(dtype).t().contiguous()

        def gemm_only(gt: torch.Tensor = gt, dtype: torch.dtype = dtype, step: int = step) -> None:
            for lo in range(0, n, step):
                q[lo:lo + step].to(dtype) @ gt  # the score blocks alone: the floor any exact method pays

        _, floor = timed(gemm_only, dev)
        del gt
        res[name] = {"seconds": secs, "gemm_floor_s": floor, "ratio_to_floor": secs / floor,
                     "queries_per_s": n / secs, "SumR": metrics["SumR"], "block_rows": step}
    return res


def _marian(ctx: Ctx, texts: list[str]) -> Path:
    """The opus-mt-sized Marian, EOS suppressed (final_logits_bias) so every sentence decodes its budget."""
    from safetensors.torch import load_file, save_file

    from cl2cm.translation.tiny import build_tiny_marian

    d, layers, heads, ffn, vocab = ctx.sizes.mt_shape
    path = build_tiny_marian(ctx.tmp / "marian", texts[:3000], vocab_size=min(4000, 8 * len(texts)), d_model=d,
                             layers=layers, heads=heads, ffn=ffn, max_length=512, total_vocab=vocab, init_std=0.5)
    weights = path / "model.safetensors"
    tensors = load_file(str(weights))
    eos = json.loads((path / "config.json").read_text())["eos_token_id"]
    tensors["final_logits_bias"][..., eos] = -1e4
    save_file(tensors, str(weights), metadata={"format": "pt"})
    return path


def section_translate(ctx: Ctx) -> dict[str, Any]:
    """Sentences/s: naive HF generate vs our translate stage (hf, ct2), same model and length budgets."""
    from cl2cm.artifacts.captions import Caption, read_captions, write_captions
    from cl2cm.translation.base import BackendOptions, max_new_tokens_for
    from cl2cm.translation.hf import HFBackend, reference_translate
    from cl2cm.translation.runner import TranslateConfig, translate_corpus

    dev, sz = ctx.device, ctx.sizes
    texts = sentences(sz.mt_sentences)
    model = _marian(ctx, texts)
    captions = ctx.tmp / "mt-captions.jsonl"
    write_captions(captions, [Caption(id=f"i{i}#0", image=f"i{i}", lang="en", text=t) for i, t in enumerate(texts)])
    naive_backend = HFBackend(str(model), BackendOptions(device=dev, dtype=torch.float32))
    lengths = naive_backend.count_tokens(texts, "en", "de")
    budget = sum(max_new_tokens_for(n, naive_backend.max_source_tokens) for n in lengths)
    reference_translate(naive_backend, texts[:16], "en", "de")  # warm-up
    naive_texts = texts[:sz.mt_naive_sentences]
    _, naive_s = timed(lambda b=naive_backend: reference_translate(b, naive_texts, "en", "de", batch_size=16), dev)
    del naive_backend
    res: dict[str, Any] = {
        "sentences": len(texts), "distinct": len(set(texts)), "source": sentence_source(len(texts)), "shape": dict(zip(
            ("d_model", "layers", "heads", "ffn", "vocab"), sz.mt_shape, strict=True)),
        "output_token_budget": budget,
        "naive": {"sentences": len(naive_texts), "seconds": naive_s, "sent_per_s": len(naive_texts) / naive_s,
                  "how": "HF generate, input order, batch 16, fp32"}}
    for backend in ("hf", "ct2"):
        if backend == "ct2" and not _has_ct2():
            res["ct2"] = {"skipped": "ctranslate2 not installed"}
            continue
        cfg = TranslateConfig(["de"], str(model), backend=backend, device=dev.type, max_tokens=sz.mt_max_tokens,
                              chunk_size=4096)
        out = ctx.tmp / f"mt-{backend}"
        try:  # ct2 may fail alone (its CUDA libraries): keep the hf row
            run = translate_corpus(captions, out, cfg, progress=False)
        except Exception as exc:  # noqa: BLE001
            res[backend] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        secs = run.languages[0].seconds
        got = read_captions(out / "de.jsonl")
        assert len(got) == len(texts), f"{backend}: {len(got)} rows for {len(texts)} captions"
        res[backend] = {"seconds": secs, "sent_per_s": len(texts) / secs,
                        "speedup_vs_naive": (len(texts) / secs) / res["naive"]["sent_per_s"]}
    return res


def _jpeg_worker(args: tuple[Path, int, int, tuple[int, int]]) -> None:
    from bench_features import make_jpegs

    folder, start, n, size = args
    sub = folder / f"{start:07d}"
    sub.mkdir()
    make_jpegs(sub, n, size, start)


def write_jpegs(folder: Path, n: int, size: tuple[int, int], workers: int) -> None:
    """n photo-like JPEGs, written in parallel (bench_features.make_jpegs per slice of 500)."""
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(folder, s, min(500, n - s), size) for s in range(0, n, 500)]
    if workers <= 1:
        for job in jobs:
            _jpeg_worker(job)
        return
    with Pool(workers) as pool:
        pool.map(_jpeg_worker, jobs)


def section_extract(ctx: Ctx) -> dict[str, Any]:
    """Images/s of extract-features end to end (JPEG decode in workers) vs the model alone."""
    from cl2cm.features.encoders import load_encoder
    from cl2cm.features.extract import ExtractConfig, extract_features
    from cl2cm.models.tiny import tiny_open_clip_config

    dev, sz = ctx.device, ctx.sizes
    model = sz.vit if sz.vit != "tiny" else str(tiny_open_clip_config(ctx.tmp / "tiny-vit.json"))
    imgs = ctx.tmp / "jpegs"
    _, write_s = timed(lambda: write_jpegs(imgs, sz.images, sz.image_size, sz.workers), torch.device("cpu"))
    cfg = ExtractConfig(model=model, pretrained="none", batch_size=sz.vit_batch, workers=sz.workers,
                        device=dev.type)
    run = extract_features(imgs, ctx.tmp / "feats", cfg)
    assert run.rows == sz.images, f"{run.rows} rows for {sz.images} images"
    enc = load_encoder(model, "none", device=dev)
    x = torch.randint(0, 256, (sz.vit_batch, 3, enc.image_size, enc.image_size), dtype=torch.uint8)
    if dev.type == "cuda":
        x = x.pin_memory()
    enc.encode(x)  # warm-up
    reps = max(1, sz.images // sz.vit_batch)

    def model_only() -> None:
        for _ in range(reps):
            enc.encode(x)[0].cpu()

    _, model_s = timed(model_only, dev)
    e2e, alone = sz.images / run.loop_seconds, reps * sz.vit_batch / model_s
    return {"model": Path(model).name, "images": sz.images, "size": "x".join(map(str, sz.image_size)),
            "batch_size": sz.vit_batch, "workers": sz.workers, "write_jpegs_s": write_s,
            "end_to_end_img_s": e2e, "model_only_img_s": alone, "ratio": e2e / alone,
            "full_call_s": run.seconds}


def section_search(ctx: Ctx) -> dict[str, Any]:
    """Compact-exact top-10, N queries × N rows: the compact first pass (fp16 on CUDA, int8 on CPU) + exact
    rescoring, vs the fp32 first pass on the first `search_exact_queries` queries; answers asserted equal."""
    from cl2cm.retrieval.compact import PreparedGallery, choose_codec, top_k_prepared

    dev, n, dim = ctx.device, ctx.sizes.search_n, ctx.sizes.search_dim
    gen = torch.Generator(device=dev).manual_seed(0)
    g = torch.nn.functional.normalize(torch.randn(n, dim, device=dev, generator=gen), dim=-1)
    q = torch.nn.functional.normalize(g + 0.5 * torch.randn(n, dim, device=dev, generator=gen), dim=-1)
    codec = "fp16" if dev.type == "cuda" else choose_codec("int8", n, dev)
    (compact, exact), build_s = timed(lambda: (PreparedGallery(g, codec), PreparedGallery(g, "fp32")), dev)
    batch = 4096 if dev.type == "cuda" else 256
    top_k_prepared(compact, q[:batch], 10)  # warm-up

    def run(p: PreparedGallery, m: int) -> list[torch.Tensor]:
        return [top_k_prepared(p, q[lo:min(lo + batch, m)], 10)[1] for lo in range(0, m, batch)]

    ids, compact_s = timed(lambda: run(compact, n), dev)
    m = min(n, ctx.sizes.search_exact_queries)
    ref, exact_s = timed(lambda: run(exact, m), dev)
    same = torch.equal(torch.cat(ids)[:m], torch.cat(ref))
    assert same, "compact-exact and the fp32 first pass disagree"
    return {"queries": n, "gallery": n, "dim": dim, "codec": codec, "build_s": build_s, "k": 10,
            "compact_s": compact_s, "compact_queries_per_s": n / compact_s,
            "exact_queries": m, "exact_s": exact_s, "exact_queries_per_s": m / exact_s,
            "speedup": (n / compact_s) / (m / exact_s), "identical": same,
            "bytes_per_row": {"fp32": exact.bytes_per_row(), codec: compact.bytes_per_row()}}


def section_decode(ctx: Ctx) -> dict[str, Any]:
    """JPEG decode + resize to the model's input: PIL in DataLoader workers (extract-features' loader, --decode
    draft and exact) vs torchvision.io.decode_jpeg on the device (nvJPEG on CUDA), batched; pixel agreement."""
    import torchvision
    from torchvision.io import decode_jpeg, read_file
    from torchvision.transforms.v2 import functional as TF

    from cl2cm.features.datasets import ImageDataset, list_images

    dev, sz = ctx.device, ctx.sizes
    imgs = ctx.tmp / "decode-jpegs"
    write_jpegs(imgs, sz.decode_images, sz.image_size, sz.workers)
    items = list_images(imgs)
    side = 224

    def transform(im: Any) -> torch.Tensor:  # shortest side → 224, centre crop (open_clip's geometry)
        x = TF.pil_to_tensor(im)
        return TF.center_crop(TF.resize(x, side, antialias=True), [side, side])

    res: dict[str, Any] = {"images": len(items), "size": "x".join(map(str, sz.image_size)), "target": side,
                           "workers": sz.workers, "torchvision": torchvision.__version__}
    pil: dict[str, torch.Tensor] = {}
    for mode in ("draft", "exact"):
        ds = ImageDataset(items, transform, target=side, max_pixels=10**9, decode=mode)
        loader = torch.utils.data.DataLoader(ds, batch_size=64, num_workers=sz.workers,
                                             collate_fn=lambda b: torch.stack([x[1] for x in b]))
        out, secs = timed(lambda loader=loader: torch.cat(list(loader)), torch.device("cpu"))
        pil[mode] = out
        res[f"pil_{mode}_img_s"] = len(items) / secs
    datas = [read_file(str(it.paths[0])) for it in items]
    decode_jpeg(datas[:8], device=dev)  # warm-up (nvJPEG handles)

    def on_device() -> torch.Tensor:
        outs = []
        for lo in range(0, len(datas), 256):
            for x in decode_jpeg(datas[lo:lo + 256], device=dev):
                outs.append(TF.center_crop(TF.resize(x, side, antialias=True), [side, side]))
        return torch.stack(outs)

    dec, secs = timed(on_device, dev)
    res["torchvision_img_s"] = len(items) / secs
    res["torchvision_device"] = str(dev)
    diff = (dec.cpu().float() - pil["exact"].float()).abs()
    res["vs_pil_exact_max_abs"], res["vs_pil_exact_mean_abs"] = float(diff.max()), float(diff.mean())
    res["speedup_vs_pil_draft"] = res["torchvision_img_s"] / res["pil_draft_img_s"]
    return res


def _text_pairs(ctx: Ctx) -> tuple[Path, Path]:
    """en/de caption files (5 captions per image) for the training sections, written once."""
    from cl2cm.artifacts.captions import Caption, write_captions

    en, de = ctx.tmp / "pairs.en.jsonl", ctx.tmp / "pairs.de.jsonl"
    if not en.exists():
        src = sentences(ctx.sizes.pairs, seed=1)
        tgt = sentences(ctx.sizes.pairs, seed=2)  # a different caption per id: the work, not the meaning, counts
        ids = [(f"img{i // 5}#{i % 5}", f"img{i // 5}") for i in range(len(src))]
        write_captions(en, [Caption(id=i, image=im, lang="en", text=t) for (i, im), t in zip(ids, src, strict=True)])
        write_captions(de, [Caption(id=i, image=im, lang="de", text=t) for (i, im), t in zip(ids, tgt, strict=True)])
    return en, de


def _bert(ctx: Ctx) -> Path:
    from cl2cm.models.tiny import build_tiny_bert

    path = ctx.tmp / "bert"
    if not (path / "config.json").exists():
        hidden, layers, heads, inter, vocab = ctx.sizes.bert
        build_tiny_bert(path, sentences(2000, seed=3) + sentences(2000, seed=4), vocab_size=3000, hidden=hidden,
                        layers=layers, heads=heads, intermediate=inter, max_length=512, total_vocab=vocab)
    return path


def _fit_row(fit: Any, wall: float) -> dict[str, Any]:
    return {"steps": fit.steps, "pairs_per_s": fit.samples_per_s, "train_s": fit.time_total_s,
            "outside_fwd_bwd_share": 1 - fit.time_compute_s / fit.time_total_s if fit.time_total_s else None,
            "setup_s": wall - fit.time_total_s}


def _train_config(ctx: Ctx) -> Any:
    from cl2cm.train import TrainConfig

    return TrainConfig(epochs=1000, batch_size=ctx.sizes.batch, lr=1e-4, max_steps=ctx.sizes.train_steps,
                       log_every=10**9, device=ctx.device.type, amp="bf16" if ctx.device.type == "cuda" else "off",
                       profile=True)


def _teacher(ctx: Ctx) -> tuple[Path, Any, float]:
    from cl2cm.models.text import TextEncoderConfig
    from cl2cm.train.teacher import TeacherOptions, TrainTeacherConfig, train_teacher

    en, de = _text_pairs(ctx)
    text = TextEncoderConfig(encoder=str(_bert(ctx)), max_length=ctx.sizes.max_length,
                             train_layers=ctx.sizes.train_layers)
    out = ctx.tmp / "teacher"
    config = TrainTeacherConfig(options=TeacherOptions(text=text), train=_train_config(ctx))
    res, wall = timed(lambda: train_teacher(en, de, out, config), ctx.device)
    return out, res, wall


def section_train_teacher(ctx: Ctx) -> dict[str, Any]:
    """Pairs/s of train-teacher with an mBERT-size encoder and the share of time outside forward/backward."""
    _, res, wall = _teacher(ctx)
    hidden, layers, _, _, vocab = ctx.sizes.bert
    return {"encoder": {"hidden": hidden, "layers": layers, "vocab": vocab, "train_layers": ctx.sizes.train_layers},
            "batch": ctx.sizes.batch,
            "max_length": ctx.sizes.max_length, "amp": _train_config(ctx).amp, **_fit_row(res.fit, wall)}


def section_distill(ctx: Ctx) -> dict[str, Any]:
    """Pairs/s of distill: the teacher's text tower + a head over 49×768 patch tokens (ViT-B/32's, as
    extract-features --tokens stores them: no CLS)."""
    from cl2cm.artifacts.manifest import Manifest
    from cl2cm.artifacts.store import save_store
    from cl2cm.train.distill import DistillConfig, DistillOptions, distill

    teacher = ctx.tmp / "teacher"
    if not (teacher / "manifest.json").exists():
        teacher, _, _ = _teacher(ctx)
    en, de = _text_pairs(ctx)
    n_img = -(-ctx.sizes.pairs // 5)
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randn(n_img, 49, 768, generator=gen).half()
    feats = torch.nn.functional.normalize(torch.randn(n_img, 512, generator=gen), dim=-1)
    store = ctx.tmp / "visual"
    save_store(store, feats, [f"img{i}" for i in range(n_img)],
               Manifest(kind="features", rows=n_img, model={"name": "ViT-B-32", "pretrained": "none"}),
               extra={"tokens": tokens})
    out = ctx.tmp / "student"
    config = DistillConfig(options=DistillOptions(visual_input="tokens"), train=_train_config(ctx))
    res, wall = timed(lambda: distill(teacher, store, en, de, out, config), ctx.device)
    return {"visual_tokens": [49, 768], "batch": ctx.sizes.batch, "head": res.head, **_fit_row(res.fit, wall)}


def section_ddp(ctx: Ctx) -> dict[str, Any]:
    """A one-process NCCL group initialises and one DDP step runs (CUDA only)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    if ctx.device.type != "cuda":
        return {"skipped": "needs CUDA (NCCL)"}
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    t0 = time.perf_counter()
    dist.init_process_group("nccl", rank=0, world_size=1)
    try:
        net = DistributedDataParallel(torch.nn.Linear(768, 512).cuda(), device_ids=[0])
        loss = net(torch.randn(128, 768, device="cuda")).square().mean()
        loss.backward()
        torch.optim.SGD(net.parameters(), lr=0.1).step()
        torch.cuda.synchronize()
        return {"backend": dist.get_backend(), "world_size": dist.get_world_size(), "loss": float(loss),
                "seconds": time.perf_counter() - t0}
    finally:
        dist.destroy_process_group()


SECTIONS: dict[str, Callable[[Ctx], dict[str, Any]]] = {
    "eval": section_eval, "search": section_search, "translate": section_translate, "extract": section_extract,
    "decode": section_decode,
    "train_teacher": section_train_teacher, "distill": section_distill, "ddp": section_ddp,
}


@dataclass
class Ctx:
    device: torch.device
    sizes: Sizes
    tmp: Path


def _has_ct2() -> bool:
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------------------------------- report
def headline(name: str, r: dict[str, Any]) -> tuple[str, str]:
    """(result, target) for the table."""
    if "error" in r:
        return f"FAILED: {r['error'].splitlines()[0][:80]}", ""
    if "skipped" in r:
        return f"skipped: {r['skipped']}", ""
    if name == "eval":
        return (f"{r['queries']:,}×{r['gallery']:,} d{r['dim']}: fp32 {r['fp32']['seconds']:.2f} s "
                f"(GEMM floor {r['fp32']['gemm_floor_s']:.2f}), fp16 {r['fp16']['seconds']:.2f} s "
                f"(floor {r['fp16']['gemm_floor_s']:.2f})", "1M×1M < 10 s, floor ≈ 1.3 s (H200)")
    if name == "search":
        return (f"{r['queries']:,}×{r['gallery']:,} d{r['dim']} top-10 {r['codec']}: {r['compact_queries_per_s']:,.0f} q/s "
                f"({r['compact_s']:.1f} s) vs fp32 pass {r['exact_queries_per_s']:,.0f} q/s, identical",
                "exact, faster than fp32")
    if name == "decode":
        return (f"{r['images']:,} JPEGs {r['size']}→{r['target']}: PIL draft {r['pil_draft_img_s']:,.0f}, exact "
                f"{r['pil_exact_img_s']:,.0f}, torchvision on {r['torchvision_device']} {r['torchvision_img_s']:,.0f} "
                f"img/s (max |Δpx| {r['vs_pil_exact_max_abs']:.0f})", "≥ 2,500 img/s")
    if name == "translate":
        rate = {k: f"{r[k]['sent_per_s']:,.0f}" if "sent_per_s" in r.get(k, {}) else
                str(r.get(k, {}).get("skipped") or r.get(k, {}).get("error", "-"))[:40] for k in ("hf", "ct2")}
        return (f"{r['sentences']:,} sent: naive {r['naive']['sent_per_s']:,.0f}, hf {rate['hf']}, "
                f"ct2 {rate['ct2']} sent/s", "≥ 2,000 sent/s")
    if name == "extract":
        return (f"{r['images']:,} JPEGs {r['model']}: {r['end_to_end_img_s']:,.0f} img/s end to end, model only "
                f"{r['model_only_img_s']:,.0f} (ratio {r['ratio']:.2f})", "> 2,500 img/s, ratio ≥ 0.8")
    if name in ("train_teacher", "distill"):
        share = r["outside_fwd_bwd_share"]
        return (f"{r['pairs_per_s']:,.0f} pairs/s over {r['steps']} steps, batch {r['batch']}, outside fwd/bwd "
                f"{100 * share:.1f}%", "outside < 5%" if name == "train_teacher" else "")
    if name == "ddp":
        return f"{r['backend']} world {r['world_size']}: one DDP step ran ({r['seconds']:.1f} s)", "runs"
    return json.dumps(r)[:100], ""


def print_table(results: dict[str, Any], meta: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"gpu_check on {meta['device_name']} ({'tiny' if meta['tiny'] else 'full'} sizes)")
    table.add_column("section")
    table.add_column("result")
    table.add_column("target")
    table.add_column("s", justify="right")
    for name, r in results.items():
        result, target = headline(name, r)
        table.add_row(name, result, target, f"{r.get('section_s', 0):.0f}")
    Console(width=160).print(table)


def _override(sizes: Sizes, pairs: list[str]) -> Sizes:
    """A copy of `sizes` with FIELD=VALUE overrides (ints, or comma-separated ints for tuples)."""
    values = asdict(sizes)
    for pair in pairs:
        key, _, raw = pair.partition("=")
        if key not in values or not raw:
            raise ValueError(f"{pair!r}: expected FIELD=VALUE with FIELD one of {', '.join(values)}")
        old = values[key]
        if isinstance(old, tuple):
            values[key] = tuple(int(x) for x in raw.split(","))
        else:
            values[key] = type(old)(raw)
    return Sizes(**values)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--tiny", action="store_true", help="tiny configs: a smoke run of the same code (CPU, < 3 min)")
    ap.add_argument("--only", nargs="+", choices=list(SECTIONS), help="run only these sections")
    ap.add_argument("--json", type=Path, default=None, help="write the results here (after every section)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's choice)")
    ap.add_argument("--captions", type=Path, default=None,
                    help="English captions, one per line (e.g. a copy of Multi30K train.en carried to the GPU "
                         "machine); default ../shared/data/multi30k/train.en, else generated sentences")
    ap.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE",
                    help="override a size, e.g. --set eval_n=200000 images=2000 (to fit a shorter lease, or to "
                         "try the full architectures on CPU with little work)")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: --device cuda but no CUDA device (use --device cpu)", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.captions is not None:
        CAPTIONS.insert(0, args.captions)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 here; fp16 is measured separately
    try:
        sizes = _override(TINY if args.tiny else FULL, args.set)
    except ValueError as exc:
        print(f"gpu_check: --set: {exc}", file=sys.stderr)
        return 2
    meta = {"device": str(device), "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)", "tiny": args.tiny,
            "torch": torch.__version__, "sizes": asdict(sizes), "started": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                                                          time.gmtime())}
    results: dict[str, Any] = {}
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        ctx = Ctx(device=device, sizes=sizes, tmp=Path(tmp))
        for name, fn in SECTIONS.items():
            if args.only and name not in args.only:
                continue
            print(f"[gpu_check] {name} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            try:
                r = fn(ctx)
            except Exception as exc:  # noqa: BLE001 - one failing section must not stop the others
                r = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
                print(r["traceback"], file=sys.stderr, flush=True)
            r["section_s"] = time.perf_counter() - t0
            if device.type == "cuda":
                r["cuda_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
                torch.cuda.reset_peak_memory_stats(device)
                torch.cuda.empty_cache()
            r["process_peak_rss_mb"] = _peak_rss_mb()
            results[name] = r
            meta["total_s"] = time.perf_counter() - t_all
            if args.json:
                tmp_json = args.json.with_name(args.json.name + ".tmp")
                tmp_json.write_text(json.dumps({"meta": meta, **results}, indent=2, default=str) + "\n")
                tmp_json.replace(args.json)
            print(f"[gpu_check] {name}: {r['section_s']:.1f} s", file=sys.stderr, flush=True)
    print_table(results, meta)
    print(f"total {time.perf_counter() - t_all:.0f} s")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
