"""Human-facing outputs of eval and search: recall@K curves (PNG) and an HTML contact sheet.

matplotlib is an optional dependency (extra ``plot``): it is imported only when a plot is asked for, and its
absence is a one-line user error, not an ImportError traceback.
"""

from __future__ import annotations

import base64
import html
import mimetypes
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cl2cm.artifacts.io import atomic_open, atomic_write_text
from cl2cm.errors import UserError
from cl2cm.retrieval.metrics import Ranks, recall_curve

IMAGE_SUFFIXES = ("", ".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")


def require_matplotlib() -> Any:
    """The pyplot module with a non-interactive backend, or a UserError saying how to get it."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise UserError("--plot needs matplotlib: pip install 'cl2cm[plot]'") from exc
    return plt


def plot_recall_curves(path: Path, ranks: Ranks, max_k: int | None = None, *, title: str | None = None) -> Path:
    """R@K for K = 1..max_k in both directions (log K axis), written atomically as PNG.

    `title` names what was evaluated (model · language · gallery, `evaluate.plot_title`): a PNG seen alone
    must say what it shows."""
    plt = require_matplotlib()
    max_k = max_k or min(100, max(ranks.gallery, 10))
    ks = list(range(1, max_k + 1))
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, r in (("text→visual", ranks.t2v), ("visual→text", ranks.v2t)):
        ax.plot(ks, recall_curve(r, max_k), label=name)
    ax.set_xscale("log")
    ax.set_xlabel("K")
    ax.set_ylabel("recall@K (%)")
    ax.set_ylim(0, 100)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    sizes = f"{ranks.queries} queries × {ranks.gallery} items"
    ax.set_title(f"{title}\n{sizes}" if title else sizes, fontsize=10)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png")
    plt.close(fig)
    return path


def find_image(root: Path, item: str) -> Path | None:
    """The file of a visual id under `root` (ids may omit the extension)."""
    for suffix in IMAGE_SUFFIXES:
        p = root / f"{item}{suffix}"
        if p.is_file():
            return p
    return None


def _src(path: Path, html_dir: Path, embed: bool) -> str:
    if embed:
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return Path(os.path.relpath(path.resolve(), html_dir.resolve())).as_posix()


def write_contact_sheet(path: Path, query: str, hits: Sequence[tuple[str, float]], root: Path, *,
                        embed: bool = False) -> Path:
    """An HTML page: the query, then one thumbnail per hit with its rank, id and score (text escaped)."""
    if not root.is_dir():
        raise UserError("--root: not a directory", path=root)
    path = Path(path)
    cells = []
    for rank, (item, score) in enumerate(hits, 1):
        img = find_image(root, item)
        thumb = (f'<img src="{html.escape(_src(img, path.parent, embed), quote=True)}" alt="{html.escape(item)}">'
                 if img is not None else '<div class="missing">image not found</div>')
        cells.append(f'<figure>{thumb}<figcaption>#{rank} {html.escape(item)}<br>{score:.4f}</figcaption>'
                     "</figure>")
    page = (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>cl2cm search</title><style>"
        "body{font-family:sans-serif}figure{display:inline-block;margin:6px;width:180px;vertical-align:top}"
        "img{max-width:180px;max-height:180px}.missing{width:180px;height:120px;background:#eee}</style></head>"
        f"<body><h2>{html.escape(query)}</h2>\n" + "\n".join(cells) + "\n</body></html>\n"
    )
    atomic_write_text(path, page)
    return path


def write_contact_sheets(path: Path, results: Sequence[Any], root: Path, *, embed: bool = False) -> list[Path]:
    """One page per query (`SearchResult`s): PATH itself for one query, PATH-0, PATH-1, ... for several."""
    path = Path(path)
    pages = ([path] if len(results) <= 1 else
             [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(len(results))])
    return [write_contact_sheet(page, r.query, r.hits, root, embed=embed) for page, r in zip(pages, results, strict=True)]
