"""`OUT/report.html`: what the run built, shown: test queries with each model's top images side by side.

For each target language a few test captions (spread over the test split) with the top images of the
teacher (its target→English caption ranking, read as the images of those captions), the no-transfer
student and the CL2CM student; the gold image is marked, with its rank under each model. Then the R@K
curves of every model (text→visual; the teacher's over the English captions), and the results table.
One self-contained file: thumbnails and the plot are embedded (data: URIs), so it opens anywhere and
survives being copied or mailed.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cl2cm.artifacts.captions import Caption, read_captions
from cl2cm.artifacts.io import atomic_write_text
from cl2cm.pipeline.config import PipelineConfig
from cl2cm.pipeline.plan import RESULT_KEYS

REPORT_FILE = "report.html"
LABELS = {"teacher": "teacher (images by their best English caption)", "student_no_transfer": "student, no transfer",
          "student": "CL2CM student"}
THUMB = 112  # px: the longest side of an embedded thumbnail


@dataclass
class _Ranked:
    """One model on one language: each query's top image ids, and the gold image's rank of every query."""

    top: list[list[str]]
    gold_rank: torch.Tensor  # [Q] 1-based, pessimistic ties


def pick_queries(captions: list[Caption], n: int) -> list[int]:
    """n captions spread evenly over the test images (the first caption of each chosen image)."""
    first: dict[str, int] = {}
    for i, c in enumerate(captions):
        first.setdefault(c.image, i)
    rows = list(first.values())
    if len(rows) <= n:
        return rows
    return [rows[round(j * (len(rows) - 1) / (n - 1))] for j in range(n)] if n > 1 else rows[:1]


def _student(model_dir: Path, features: Path, queries: list[Caption], picks: list[int], k: int) -> _Ranked:
    from cl2cm.retrieval.metrics import gallery_index
    from cl2cm.retrieval.search import load_gallery, top_k

    gallery = load_gallery(model_dir, features, device="cpu")
    with torch.no_grad():
        q = gallery.model.encode_text([c.text for c in queries])
    idx = gallery_index([c.image for c in queries], gallery.ids)
    scores = q @ gallery.emb.T
    gold = scores.gather(1, idx[:, None])
    _, top = top_k(q[picks], gallery.emb, min(k, len(gallery)))
    return _Ranked([[gallery.ids[j] for j in row] for row in top.tolist()], (scores >= gold).sum(1))


def _teacher(model_dir: Path, english: list[Caption], queries: list[Caption], picks: list[int], k: int) -> _Ranked:
    """The teacher ranks English captions; an image scores as its best caption (its view of the images)."""
    from cl2cm.models import load_model

    model = load_model(model_dir, "cpu")
    encode_en = getattr(model, "encode_source", model.encode_text)
    with torch.no_grad():
        q = model.encode_text([c.text for c in queries])
        g = encode_en([c.text for c in english])
    images = list(dict.fromkeys(c.image for c in english))
    row_of = {image: i for i, image in enumerate(images)}
    caption_image = torch.tensor([row_of[c.image] for c in english])
    scores = q @ g.T
    by_image = torch.full((len(queries), len(images)), float("-inf"), dtype=scores.dtype)
    by_image = by_image.scatter_reduce(1, caption_image.expand_as(scores), scores, reduce="amax")
    gold = by_image.gather(1, torch.tensor([[row_of[c.image]] for c in queries]))
    top = torch.topk(by_image[picks], min(k, len(images)), dim=1).indices
    return _Ranked([[images[j] for j in row] for row in top.tolist()], (by_image >= gold).sum(1))


class _Thumbs:
    """Each image once, as a small embedded PNG (None: not found or unreadable)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.cache: dict[str, str | None] = {}

    def __call__(self, item: str) -> str | None:
        if item not in self.cache:
            self.cache[item] = self._load(item)
        return self.cache[item]

    def _load(self, item: str) -> str | None:
        from PIL import Image

        from cl2cm.retrieval.report import find_image

        path = find_image(self.root, item) if self.root is not None else None
        if path is None:
            return None
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                im.thumbnail((THUMB, THUMB))
                buf = io.BytesIO()
                im.save(buf, format="PNG")
        except OSError:
            return None
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _recall_plot(curves: dict[str, Any], lang: str, gallery: dict[str, int]) -> str | None:
    """The R@K curves of every model as an embedded PNG (None without matplotlib)."""
    try:
        from cl2cm.retrieval.report import require_matplotlib

        plt = require_matplotlib()
    except Exception:  # noqa: BLE001 - the plot is optional: matplotlib is an extra
        return None
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    for key, curve in curves.items():
        ax.plot(range(1, len(curve) + 1), curve, label=f"{LABELS[key]} ({gallery[key]} items)")
    ax.set_xscale("log")
    ax.set_xlabel("K")
    ax.set_ylabel("recall@K (%)")
    ax.set_ylim(0, 100)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{lang} test captions → images (text→visual)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _results_table(results: dict[str, Any]) -> str:
    head = "".join(f"<th>{d} {k}</th>" for d in ("T→V", "V→T") for k in ("R@1", "R@5", "R@10"))
    rows = []
    for key in RESULT_KEYS:
        if key not in results:
            continue
        m = results[key]
        codes = [*m["mean"]["languages"], "mean"] if "mean" in m else [None]
        for code in codes:
            row = m[code] if code else m
            cells = "".join(f"<td>{row[d][k]:.1f}</td>" for d in ("t2v", "v2t") for k in ("R@1", "R@5", "R@10"))
            name = LABELS[key] + (f" · {code}" if code else "")
            rows.append(f"<tr><th>{html.escape(name)}</th>{cells}<td><b>{row['SumR']:.1f}</b></td></tr>")
    return f"<table class=results><tr><th>model</th>{head}<th>SumR</th></tr>{''.join(rows)}</table>"


_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1300px}
h1{font-size:1.4em} h2{margin-top:2em;border-bottom:1px solid #ccc}
table.results{border-collapse:collapse;margin:12px 0} .results td,.results th{border:1px solid #ccc;
padding:4px 8px;text-align:right} .results th:first-child{text-align:left}
.query{margin:18px 0;padding:10px;background:#f7f7f7;border-radius:6px}
.q{font-size:1.05em;margin-bottom:8px} .q img{vertical-align:middle;margin-left:8px}
.models{display:flex;gap:18px;flex-wrap:wrap} .model{flex:1;min-width:260px}
.model h4{margin:4px 0;font-size:.9em} figure{display:inline-block;margin:2px;text-align:center;font-size:.65em;width:70px}
figcaption{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
figure img{width:64px;height:64px;object-fit:contain;border:3px solid transparent;background:#fff}
figure.gold img{border-color:#1a9c3a} .missing{width:64px;height:64px;background:#ddd;display:inline-block}
.rank{font-size:.8em;color:#555} .goldtag{color:#1a9c3a;font-weight:bold}
"""


def write_report(cfg: PipelineConfig, out: Path, results: dict[str, Any], *, queries: int = 4, k: int = 5
                 ) -> Path | None:
    """Write OUT/report.html for an evaluated run (None when there is nothing evaluated to show)."""
    test = cfg.splits.get("test")
    models = [key for key in RESULT_KEYS if key in results]
    if test is None or not models or not all(lang in test.target_captions for lang in cfg.languages):
        return None
    root = test.root if test.root is not None else (test.images if test.images.is_dir() else test.images.parent)
    thumbs = _Thumbs(root)
    english = read_captions(test.captions) if "teacher" in models and test.captions is not None else []
    sections = []
    for lang in cfg.languages:
        captions = read_captions(test.target_captions[lang])
        picks = pick_queries(captions, queries)
        ranked: dict[str, _Ranked] = {}
        sizes: dict[str, int] = {}
        for key in models:
            model_dir = out / key.replace("_", "-")
            if key == "teacher":
                if not english:
                    continue
                ranked[key] = _teacher(model_dir, english, captions, picks, k)
                sizes[key] = len({c.image for c in english})
            else:
                ranked[key] = _student(model_dir, out / "features" / "test", captions, picks, k)
                sizes[key] = len({c.image for c in captions})
        sections.append(_language_section(lang, captions, picks, ranked, sizes, thumbs))
    title = f"cl2cm — what this run built ({', '.join(cfg.languages)})"
    page = (f"<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'><style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>Test queries are human target-language captions the models never "
            f"saw; each shows the top {k} images of every model, the <span class=goldtag>gold</span> image framed "
            "in green. The teacher is a text model: it ranks the English test captions, and its column shows "
            "each image scored by its best caption (the table's teacher row ranks the captions themselves). One seed: differences between the students are within the seed spread unless "
            "docs/method.md says otherwise.</p>"
            f"<h2>Results (test split)</h2>{_results_table(results)}"
            + "".join(sections) + "</body></html>\n")
    path = out / REPORT_FILE
    atomic_write_text(path, page)
    return path


def _language_section(lang: str, captions: list[Caption], picks: list[int], ranked: dict[str, _Ranked],
                      sizes: dict[str, int], thumbs: _Thumbs) -> str:
    from cl2cm.retrieval.metrics import recall_curve

    max_k = min(100, max(sizes.values()))
    curves = {key: recall_curve(r.gold_rank, min(max_k, sizes[key])) for key, r in ranked.items()}
    plot = _recall_plot(curves, lang, sizes)
    parts = [f"<h2 id=lang-{html.escape(lang)}>{html.escape(lang)}</h2>"]
    if plot:
        parts.append(f"<img class=plot alt='recall curves {html.escape(lang)}' src='{plot}'>")
    for qi, row in enumerate(picks):
        c = captions[row]
        gold = thumbs(c.image)
        gold_img = f"<img src='{gold}' alt='gold {html.escape(c.image)}' width=48 height=48>" if gold else ""
        cols = []
        for key, r in ranked.items():
            figs = []
            for item in r.top[qi]:
                src = thumbs(item)
                img = (f"<img src='{src}' alt='{html.escape(item)}'>" if src else "<span class=missing></span>")
                mark = " class=gold" if item == c.image else ""
                figs.append(f"<figure{mark} data-id='{html.escape(item)}'>{img}<figcaption>{html.escape(item)}"
                            "</figcaption></figure>")
            rank = int(r.gold_rank[row])
            cols.append(f"<div class=model data-model={key}><h4>{html.escape(LABELS[key])} "
                        f"<span class=rank>gold at rank {rank}</span></h4>{''.join(figs)}</div>")
        parts.append(f"<div class=query><div class=q>“{html.escape(c.text)}” <span class=rank>gold "
                     f"{html.escape(c.image)}</span>{gold_img}</div><div class=models>{''.join(cols)}</div></div>")
    return "".join(parts)
