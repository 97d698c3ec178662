"""Is the image loader hidden? extract-features images/s vs the same model on pre-decoded pixels vs naive PIL.

Three ways over the same generated JPEGs (realistic 500x375 photos-like content), same model:

1. ours: `extract_features` (DataLoader workers decode + resize, uint8 batches, pinned memory on CUDA,
   inference_mode + autocast, channels_last, chunk commits), timed over its loop; plus its whole call
   (open_clip import, model build, merge) for reference;
2. pre-decoded: the same encoder on pixels already decoded into memory, same batch size: the ceiling;
3. naive: one process, PIL open + open_clip's preprocess + encode_image, batch 1.

ours/pre-decoded near 1 means decoding is hidden behind compute (the goal, >= 0.8 where the model is
the expensive part); ours/naive is the speed-up over the obvious loop.

    .venv/bin/python benchmarks/bench_features.py                       # tiny ViT config, CPU, ~1 min
    .venv/bin/python benchmarks/bench_features.py --gpu --n 20000 --workers 14 --batch-size 512 \\
        --model ViT-B-32 --json bench-features.json                     # on a GPU machine
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from cl2cm.features.datasets import ImageDataset, list_images  # noqa: E402
from cl2cm.features.encoders import load_encoder  # noqa: E402
from cl2cm.features.extract import ExtractConfig, extract_features  # noqa: E402
from cl2cm.models.tiny import tiny_open_clip_config  # noqa: E402
from cl2cm.runtime import resolve_device  # noqa: E402


def make_jpegs(folder: Path, n: int, size: tuple[int, int], seed: int) -> None:
    """Photo-like JPEGs: smooth colour fields plus fine noise, ~q90 (noise-only JPEGs decode unusually slowly)."""
    rng = np.random.default_rng(seed)
    w, h = size
    for i in range(n):
        coarse = Image.fromarray(rng.integers(0, 255, (h // 24 + 1, w // 24 + 1, 3), dtype=np.uint8))
        img = np.asarray(coarse.resize((w, h), Image.BICUBIC), dtype=np.int16)
        img = np.clip(img + rng.integers(-12, 12, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i:06d}.jpg", quality=90)


def timed(fn) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=512, help="images (default 512)")
    ap.add_argument("--naive-n", type=int, default=128, help="images for the naive batch-1 loop")
    ap.add_argument("--size", default="500x375", help="JPEG size WxH")
    ap.add_argument("--model", default=None, help="open_clip name or config JSON (default: tiny ViT config)")
    ap.add_argument("--pretrained", default="none")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--gpu", action="store_true", help="--device cuda, default model ViT-B-32")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    device = resolve_device("cuda" if args.gpu else args.device)
    w, h = (int(x) for x in args.size.lower().split("x"))
    torch.set_grad_enabled(False)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = args.model or ("ViT-B-32" if args.gpu else str(tiny_open_clip_config(tmp / "tiny-vit.json")))
        imgs = tmp / "imgs"
        imgs.mkdir()
        make_jpegs(imgs, args.n, (w, h), 0)
        enc = load_encoder(model, args.pretrained, device=device)
        items = list_images(imgs)
        n = len(items)

        # 1. ours: the extract-features command's library call; its loop time excludes model load + merge
        ds = ImageDataset(items, enc.transform, target=enc.image_size, max_pixels=10**9)
        enc.encode(torch.stack([ds[i][1] for i in range(min(n, args.batch_size))]))  # warm-up
        cfg = ExtractConfig(model=model, pretrained=args.pretrained, batch_size=args.batch_size,
                            workers=args.workers, device=str(device))
        run = extract_features(imgs, tmp / "out", cfg)
        t_ours, t_full = run.loop_seconds, run.seconds

        # 2. pre-decoded pixels, same batch size
        pixels = torch.stack([ds[i][1] for i in range(n)])
        if device.type == "cuda":
            pixels = pixels.pin_memory()

        def predecoded() -> None:
            for s in range(0, n, args.batch_size):
                enc.encode(pixels[s: s + args.batch_size])[0].cpu()

        t_pre = timed(predecoded)

        # 3. naive: PIL + open_clip preprocess + encode_image, one image at a time, one process
        import open_clip

        torch.manual_seed(0)
        clip, _, preprocess = open_clip.create_model_and_transforms(Path(model).stem if model.endswith(".json")
                                                                    else model,
                                                                    pretrained=None if args.pretrained == "none"
                                                                    else args.pretrained, device=device)
        clip.eval()
        naive_items = items[: args.naive_n]

        def naive() -> None:
            for it in naive_items:
                x = preprocess(Image.open(it.paths[0]).convert("RGB")).unsqueeze(0).to(device)
                clip.encode_image(x).cpu()

        t_naive = timed(naive)

    res = {
        "device": str(device), "model": Path(model).name, "images": n, "size": f"{w}x{h}",
        "batch_size": args.batch_size, "workers": args.workers, "cpu_threads": torch.get_num_threads(),
        "ours_img_s": n / t_ours, "ours_full_run_img_s": n / t_full, "predecoded_img_s": n / t_pre,
        "naive_img_s": len(naive_items) / t_naive,
    }
    res["ratio_ours_vs_predecoded"] = res["ours_img_s"] / res["predecoded_img_s"]
    res["ratio_ours_vs_naive"] = res["ours_img_s"] / res["naive_img_s"]
    print(f"{'way':<42}{'images/s':>12}")
    print(f"{'ours: extract_features loop':<42}{res['ours_img_s']:>12,.1f}")
    print(f"{'ours, full extract_features run':<42}{res['ours_full_run_img_s']:>12,.1f}")
    print(f"{'pre-decoded pixels, same batch size':<42}{res['predecoded_img_s']:>12,.1f}")
    print(f"{'naive PIL loop, batch 1':<42}{res['naive_img_s']:>12,.1f}")
    print(f"ours / pre-decoded = {res['ratio_ours_vs_predecoded']:.2f}   ours / naive = {res['ratio_ours_vs_naive']:.1f}x")
    print(f"({res['device']}, {res['model']}, {n} JPEGs {w}x{h}, batch {args.batch_size}, {args.workers} workers)")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
