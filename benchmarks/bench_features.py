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
    .venv/bin/python benchmarks/bench_features.py --sizes 500x375,640x480 --decodes draft,exact
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


def run_one(args: argparse.Namespace, device: torch.device, model: str, tmp: Path, w: int, h: int
            ) -> dict[str, object]:
    """One JPEG size: ours for each --decodes mode (same files, same model), pre-decoded, naive."""
    imgs = tmp / f"imgs-{w}x{h}"
    imgs.mkdir()
    make_jpegs(imgs, args.n, (w, h), 0)
    enc = load_encoder(model, args.pretrained, device=device)
    items = list_images(imgs)
    n = len(items)
    res: dict[str, object] = {"device": str(device), "model": Path(model).name, "images": n, "size": f"{w}x{h}",
                              "batch_size": args.batch_size, "workers": args.workers,
                              "cpu_threads": torch.get_num_threads()}

    # 1. ours: the extract-features command's library call; its loop time excludes model load + merge
    ds = ImageDataset(items, enc.transform, target=enc.image_size, max_pixels=10**9)
    enc.encode(torch.stack([ds[i][1] for i in range(min(n, args.batch_size))]))  # warm-up
    for mode in args.decodes.split(","):
        cfg = ExtractConfig(model=model, pretrained=args.pretrained, batch_size=args.batch_size,
                            workers=args.workers, device=str(device), decode=mode)
        run = extract_features(imgs, tmp / f"out-{w}x{h}-{mode}", cfg)
        res[f"ours_{mode}_img_s"], res[f"ours_{mode}_full_run_img_s"] = n / run.loop_seconds, n / run.seconds

    # 2. pre-decoded pixels, same batch size
    pixels = torch.stack([ds[i][1] for i in range(n)])
    if device.type == "cuda":
        pixels = pixels.pin_memory()

    def predecoded() -> None:
        for s in range(0, n, args.batch_size):
            enc.encode(pixels[s: s + args.batch_size])[0].cpu()

    res["predecoded_img_s"] = n / timed(predecoded)
    for mode in args.decodes.split(","):
        res[f"ratio_ours_{mode}_vs_predecoded"] = res[f"ours_{mode}_img_s"] / res["predecoded_img_s"]

    # 3. naive: PIL + open_clip preprocess + encode_image, one image at a time, one process
    if args.naive_n:
        import open_clip

        torch.manual_seed(0)
        clip, _, preprocess = open_clip.create_model_and_transforms(
            Path(model).stem if model.endswith(".json") else model,
            pretrained=None if args.pretrained == "none" else args.pretrained, device=device)
        clip.eval()
        naive_items = items[: args.naive_n]

        def naive() -> None:
            for it in naive_items:
                x = preprocess(Image.open(it.paths[0]).convert("RGB")).unsqueeze(0).to(device)
                clip.encode_image(x).cpu()

        res["naive_img_s"] = len(naive_items) / timed(naive)
        for mode in args.decodes.split(","):
            res[f"ratio_ours_{mode}_vs_naive"] = res[f"ours_{mode}_img_s"] / res["naive_img_s"]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=512, help="images (default 512)")
    ap.add_argument("--naive-n", type=int, default=128, help="images for the naive batch-1 loop (0: skip)")
    ap.add_argument("--size", "--sizes", dest="sizes", default="500x375", help="JPEG sizes WxH[,WxH...]")
    ap.add_argument("--decodes", default="draft,exact", help="extract-features --decode modes to time")
    ap.add_argument("--model", default=None, help="open_clip name or config JSON (default: tiny ViT config)")
    ap.add_argument("--pretrained", default="none")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--gpu", action="store_true", help="--device cuda, default model ViT-B-32")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    device = resolve_device("cuda" if args.gpu else args.device)
    torch.set_grad_enabled(False)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = args.model or ("ViT-B-32" if args.gpu else str(tiny_open_clip_config(tmp / "tiny-vit.json")))
        for size in args.sizes.split(","):
            w, h = (int(x) for x in size.lower().split("x"))
            res = run_one(args, device, model, tmp, w, h)
            rows.append(res)
            print(f"\n{res['device']}, {res['model']}, {res['images']} JPEGs {w}x{h}, batch {args.batch_size}, "
                  f"{args.workers} workers")
            print(f"{'way':<44}{'images/s':>12}{'/ pre-decoded':>15}")
            for mode in args.decodes.split(","):
                print(f"{'ours, --decode ' + mode + ' (loop)':<44}{res[f'ours_{mode}_img_s']:>12,.1f}"
                      f"{res[f'ratio_ours_{mode}_vs_predecoded']:>15.2f}")
                print(f"{'ours, --decode ' + mode + ' (whole run)':<44}{res[f'ours_{mode}_full_run_img_s']:>12,.1f}")
            print(f"{'pre-decoded pixels, same batch size':<44}{res['predecoded_img_s']:>12,.1f}{1.0:>15.2f}")
            if "naive_img_s" in res:
                print(f"{'naive PIL loop, batch 1':<44}{res['naive_img_s']:>12,.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
