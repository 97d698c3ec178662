"""Teacher training throughput: the engine (tokenise once) vs a naive loop that re-tokenises every batch.

Both train the same CrossLingualTeacher with the same loss (InfoNCE + λ·OT) on real Multi30K en/de pairs
for the same number of steps. Reported: pairs/s, and the share of step time spent outside the model's
forward/backward/optimizer step (data preparation, tokenisation, logging), which the engine aims to keep
under 5%.

    .venv/bin/python benchmarks/bench_train.py                      # tiny BERT built offline, CPU
    .venv/bin/python benchmarks/bench_train.py --encoder bert-base-multilingual-cased --device cuda \
        --batch-size 128 --steps 50 --json bench_train.json

Without --encoder a tiny BERT (WordPiece trained on Multi30K) is built in a temp dir, since no weights
can be downloaded here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "multi30k"


def naive_loop(args: argparse.Namespace, encoder: str, src: list[str], tgt: list[str]) -> dict[str, float]:
    """The textbook loop: tokenise each batch's strings inside the step, no pre-tokenisation."""
    from cl2cm.losses import InfoNCE, WordAlignmentLoss
    from cl2cm.models.teacher import CrossLingualTeacher, TeacherConfig
    from cl2cm.models.text import TextEncoderConfig
    from cl2cm.runtime import resolve_device

    device = resolve_device(args.device)
    torch.manual_seed(0)
    model = CrossLingualTeacher(TeacherConfig(TextEncoderConfig(encoder=encoder, dim=args.dim, train_layers="all",
                                                                max_length=args.max_length))).to(device).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    nce, ot = InfoNCE(0.07), WordAlignmentLoss(0.05, args.ot_iters)
    order = torch.randperm(len(src), generator=torch.Generator().manual_seed(0)).tolist()
    b = args.batch_size
    t_compute = 0.0
    t0 = time.perf_counter()
    for step in range(args.steps):
        idx = [order[(step * b + i) % len(order)] for i in range(b)]
        s = model.src.tokenize([src[i] for i in idx])
        t = model.tgt.tokenize([tgt[i] for i in idx])
        s, t = {k: v.to(device) for k, v in s.items()}, {k: v.to(device) for k, v in t.items()}
        _sync(device)
        tc = time.perf_counter()
        so, to = model(s["input_ids"], s["attention_mask"], t["input_ids"], t["attention_mask"])
        loss = nce(to.emb, so.emb) + args.ot_weight * ot(so.tokens, so.token_mask, to.tokens, to.token_mask)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync(device)
        t_compute += time.perf_counter() - tc
    total = time.perf_counter() - t0
    return {"pairs_per_s": args.steps * b / total, "outside_share": 1 - t_compute / total, "total_s": total}


def engine_run(args: argparse.Namespace, encoder: str, out: Path) -> dict[str, float]:
    from cl2cm.models.text import TextEncoderConfig
    from cl2cm.train import TrainConfig
    from cl2cm.train.teacher import TeacherOptions, TrainTeacherConfig, train_teacher

    opts = TeacherOptions(text=TextEncoderConfig(encoder=encoder, dim=args.dim, train_layers="all",
                                                 max_length=args.max_length), ot_weight=args.ot_weight,
                          ot_iters=args.ot_iters)
    cfg = TrainConfig(epochs=1000, batch_size=args.batch_size, lr=1e-4, max_steps=args.steps,
                      log_every=max(args.steps, 1), device=args.device, profile=True)
    t0 = time.perf_counter()
    res = train_teacher(DATA / "train.en", DATA / "train.de", out,
                        TrainTeacherConfig(options=opts, train=cfg, max_pairs=args.pairs))
    wall = time.perf_counter() - t0
    f = res.fit
    return {"pairs_per_s": f.samples_per_s, "outside_share": 1 - f.time_compute_s / f.time_total_s,
            "total_s": f.time_total_s, "setup_s": wall - f.time_total_s}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", help="HF name or dir (default: a tiny BERT built offline)")
    ap.add_argument("--pairs", type=int, default=4000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--max-length", type=int, default=32)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--ot-weight", type=float, default=0.1)
    ap.add_argument("--ot-iters", type=int, default=50)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 on a shared machine)")
    ap.add_argument("--repeats", type=int, default=2, help="runs of each loop, interleaved; best is kept")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not DATA.exists():
        sys.exit(f"bench_train: Multi30K not found at {DATA}")
    from cl2cm.artifacts.captions import pair_by_id, read_captions

    pairs = pair_by_id(read_captions(DATA / "train.en"), read_captions(DATA / "train.de"))[:args.pairs]
    src, tgt = [s.text for s, _ in pairs], [t.text for _, t in pairs]
    with tempfile.TemporaryDirectory() as tmp:
        encoder = args.encoder
        if encoder is None:
            from cl2cm.models.tiny import build_tiny_bert

            encoder = str(build_tiny_bert(Path(tmp) / "bert", src + tgt, vocab_size=3000))
        runs: dict[str, list[dict[str, float]]] = {"engine": [], "naive": []}
        for rep in range(args.repeats):  # interleaved, best of N: the machine's load varies
            runs["naive"].append(naive_loop(args, encoder, src, tgt))
            runs["engine"].append(engine_run(args, encoder, Path(tmp) / f"engine-{rep}"))
        ours = max(runs["engine"], key=lambda r: r["pairs_per_s"])
        naive = max(runs["naive"], key=lambda r: r["pairs_per_s"])
    rows = [("engine (tokenise once)", ours), ("naive (tokenise per batch)", naive)]
    print(f"teacher training, best of {args.repeats}, {args.steps} steps × batch {args.batch_size}, max_length {args.max_length}, "
          f"device {args.device}, encoder {args.encoder or 'tiny BERT'}")
    print(f"{'loop':<28} {'pairs/s':>9} {'outside fwd/bwd':>16} {'train s':>8}")
    for name, r in rows:
        print(f"{name:<28} {r['pairs_per_s']:>9.1f} {100 * r['outside_share']:>15.1f}% {r['total_s']:>8.2f}")
    ratio = ours["pairs_per_s"] / naive["pairs_per_s"]
    print(f"speed-up engine / naive: {ratio:.2f}×")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "engine": ours,
                                         "naive": naive, "speedup": ratio}, indent=2) + "\n")


if __name__ == "__main__":
    main()
