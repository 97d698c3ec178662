"""CL2CM's ablation on the demo world: the student with and without cross-lingual knowledge transfer.

Runs the real stages through library calls: generate the demo world → translate the English training
captions to German with the lexicon MT at a given noise → extract patch-token features with the tiny random
ViT → train the teacher on (English, MT German) → distill the student twice per seed, with transfer
(CL2CM) and with `--no-transfer` (the baseline), everything else equal → evaluate both on the test split
with the human (gold) German captions, by `cl2cm.evaluate` (what `eval --out` writes; SumR = R@1+5+10,
both directions).
Then the same at a stronger translation noise. Prints mean ± std over seeds and writes `--json`.

    .venv/bin/python experiments/transfer_vs_baseline.py --work runs/exp --json runs/exp/result.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from cl2cm.train.distill import DistillOptions as DistillOptionsDefaults


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("runs/exp-transfer"), help="working directory")
    ap.add_argument("--train", type=int, default=600, help="training images (5 captions each)")
    ap.add_argument("--val", type=int, default=100, help="validation images")
    ap.add_argument("--test", type=int, default=300, help="test images")
    ap.add_argument("--noise", type=float, nargs="+", default=[0.15, 0.5], help="MT noise levels")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=5, help="student epochs")
    ap.add_argument("--teacher-epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--init-text", default="teacher", help="student text encoder init: teacher | encoder")
    ap.add_argument("--head", default="auto", help="student visual head (auto = flat on patch tokens)")
    ap.add_argument("--kt-weight", type=float, default=DistillOptionsDefaults.kt_weight)
    ap.add_argument("--kt-temperature", type=float, default=DistillOptionsDefaults.kt_temperature)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--ot-weight", type=float, default=0.0,
                    help="teacher's OT term weight (0 = off; the demo's teacher uses 0.1)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 is fastest on shared cores)")
    ap.add_argument("--json", type=Path, default=None, help="write the result here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import cl2cm
    from cl2cm.demo.world import generate_world
    from cl2cm.features.extract import ExtractConfig
    from cl2cm.models import TextEncoderConfig
    from cl2cm.train import TrainConfig
    from cl2cm.train.distill import DistillConfig, DistillOptions
    from cl2cm.train.teacher import TeacherOptions, TrainTeacherConfig
    from cl2cm.translate.runner import TranslateConfig

    t_start = time.perf_counter()
    work = args.work
    world = work / "world"
    generate_world(world, n_train=args.train, n_val=args.val, n_test=args.test, seed=0)
    feats = {}
    for split in ("train", "val", "test"):
        out = work / f"feats-{split}"
        if not (out / "manifest.json").exists():
            cl2cm.extract_features(world / f"{split}_images.txt", out, ExtractConfig(
                root=world / "images" / split, model=str(world / "tiny-vit.json"), pretrained="none",
                tokens=True, device="cpu", workers=0, batch_size=128))
        feats[split] = out
    print(f"world + features: {time.perf_counter() - t_start:.0f} s", flush=True)

    train = dict(batch_size=args.batch_size, lr=args.lr, device="cpu", log_every=1000)
    results: dict[str, dict[str, list[float]]] = {}
    for noise in args.noise:
        mt = work / f"mt-{noise}"
        if not (mt / "manifest.json").exists():
            cl2cm.translate(world / "train.en.jsonl", mt, TranslateConfig(
                targets=["de"], model=str(world / "lexicon.json"), backend="lexicon", noise=noise, device="cpu"))
        teacher = work / (f"teacher-{noise}" if args.ot_weight == 0 else f"teacher-{noise}-ot{args.ot_weight}")
        if not (teacher / "manifest.json").exists():
            opts = TeacherOptions(text=TextEncoderConfig(encoder=str(world / "encoder"), dim=args.dim,
                                                         train_layers="all", max_length=48),
                                  ot_weight=args.ot_weight)
            cl2cm.train_teacher(world / "train.en.jsonl", mt / "de.jsonl", teacher,
                                TrainTeacherConfig(options=opts, train=TrainConfig(epochs=args.teacher_epochs, **train)),
                                val_src=world / "val.en.jsonl", val_tgt=world / "val.de.jsonl")
        for method, transfer in (("baseline", False), ("cl2cm", True)):
            key = f"noise={noise} {method}"
            results[key] = {"test_sumr": [], "test_t2v_r1": [], "val_sumr": []}
            for seed in range(args.seeds):
                out = work / f"student-{noise}-{method}-{seed}"
                options = DistillOptions(visual_input="tokens", transfer=transfer, head=args.head,
                                         init_text=args.init_text, kt_weight=args.kt_weight,
                                         kt_temperature=args.kt_temperature)
                res = cl2cm.distill(teacher, feats["train"], world / "train.en.jsonl", mt / "de.jsonl", out,
                                    DistillConfig(options=options,
                                                  train=TrainConfig(epochs=args.epochs, seed=seed, **train)),
                                    val_features=feats["val"], val_captions=world / "val.de.jsonl")
                # The test split is scored by `cl2cm eval`'s own function, not the training validator.
                m = cl2cm.evaluate(out, captions=world / "test.de.jsonl", features=feats["test"])
                results[key]["test_sumr"].append(m["SumR"])
                results[key]["test_t2v_r1"].append(m["t2v"]["R@1"])
                results[key]["val_sumr"].append(float(res.fit.best_metric or 0.0))
                print(f"{key} seed {seed}: test SumR {m['SumR']:.1f}  ({time.perf_counter() - t_start:.0f} s)",
                      flush=True)

    def ms(xs: list[float]) -> str:
        return f"{statistics.mean(xs):6.1f} ± {statistics.stdev(xs) if len(xs) > 1 else 0.0:4.1f}"

    print(f"\n{'setting':<26} {'test SumR':>14} {'test t2v R@1':>14} {'val SumR':>14}")
    for key, r in results.items():
        print(f"{key:<26} {ms(r['test_sumr']):>14} {ms(r['test_t2v_r1']):>14} {ms(r['val_sumr']):>14}")
    print(f"(chance SumR ≈ {2 * (1 + 5 + 10) * 100 / args.test:.1f}; {time.perf_counter() - t_start:.0f} s in all)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results},
                                        indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
