"""Caption corpora: one record per caption, read from every format the field uses.

The canonical form is JSONL, one object per line: ``{"id", "image", "lang", "text"}`` plus optional fields
(``source`` for a translation's English text, ``back`` for a back-translation). Ids are language-neutral
(``<image>#<k>``), so an English caption and its translation share an id and stages pair them by id.

Readers (``--format``; auto-detected from the file name where unambiguous):

* ``jsonl``     the canonical form.
* ``multi30k``  aligned text: ``<split>.<lang>`` with ``<split>.txt`` beside it (line i = image name);
                task 2: ``<split>.<k>.<lang>`` with ``<split>_images.txt``. Id = ``<image>#<k>``.
* ``nrccr``     ``*.caption.txt`` lines ``<image>#<tag>#<k> caption``; the tag (``enc``, ``enc2de``,
                ``de``, ``enc2de2enc``) gives the language and is dropped from the id.
* ``tsv``       ``id<TAB>text`` (COCO-CN style); image = the id before the first ``#``.
* ``csv`` / ``parquet``  through HF ``datasets``: columns ``text`` and ``id`` or ``image``
                (+ ``lang``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cl2cm.artifacts.io import atomic_open, iter_lines
from cl2cm.errors import UserError

FORMATS = ("jsonl", "multi30k", "nrccr", "tsv", "csv", "parquet")
_LANG = r"[a-z]{2,3}(?:_[a-z]+)?"
_TASK2 = re.compile(rf"^(?P<split>.+)\.(?P<k>\d+)\.(?P<lang>{_LANG})$")
_TASK1 = re.compile(rf"^(?P<split>.+)\.(?P<lang>{_LANG})$")
# Extensions taken as a language code when no image list lies beside the file (ISO 639-1 + common scripts).
_KNOWN_LANGS = frozenset(
    ("af ar bg bn ca cs cy da de el en es et eu fa fi fr ga gl gu he hi hr hu hy id is it ja ka kk km kn ko "
     "lt lv mk ml mn mr ms my ne nl no pa pl pt ro ru si sk sl sq sr sv sw ta te th tl tr uk ur uz vi zh").split()
)
_NRCCR_LANG = re.compile(r"^(?:google_)?(?:enc2)?(?P<lang>[a-z]{2,3}?)(?:2enc)?$")


@dataclass
class Caption:
    """One caption of one visual item."""

    id: str
    image: str
    lang: str
    text: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "image": self.image, "lang": self.lang, "text": self.text, **self.extra}

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Caption:
        extra = {k: v for k, v in obj.items() if k not in ("id", "image", "lang", "text")}
        return cls(id=obj["id"], image=obj["image"], lang=obj["lang"], text=obj["text"], extra=extra)


def image_of(caption_id: str) -> str:
    """The visual id of a caption id: everything before the first '#'."""
    return caption_id.split("#", 1)[0]


# ---------------------------------------------------------------------------------------------- detection
def detect_format(path: str | Path, images: str | Path | None = None) -> str:
    """Guess the format from the file name; raise a UserError asking for --format when unsure."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith((".jsonl", ".json", ".jsonl.gz")):
        return "jsonl"
    if name.endswith(".caption.txt"):
        return "nrccr"
    if name.endswith(".tsv"):
        return "tsv"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    m2 = _TASK2.match(p.name)
    if m2 and (p.parent / f"{m2['split']}_images.txt").exists():
        return "multi30k"
    m1 = _TASK1.match(p.name)
    if m1 and m1["lang"] != "txt" and (
        images or (p.parent / f"{m1['split']}.txt").exists() or m1["lang"].split("_")[0] in _KNOWN_LANGS
    ):
        return "multi30k"
    if p.suffix == ".txt" and p.exists():
        lines = iter_lines(p)
        first = next(lines, "")
        for _ in lines:  # the rest is decoded too: invalid UTF-8 anywhere names its line, as readers do
            pass
        head = first.split(maxsplit=1)[0] if first.strip() else ""
        if "\t" in first:
            return "tsv"
        if head.count("#") >= 1 and " " in first:
            return "nrccr"
    raise UserError("cannot tell the caption format from the file name; pass --format "
                    f"({'|'.join(FORMATS)})", path=path)


# ---------------------------------------------------------------------------------------------- readers
def read_captions(
    path: str | Path,
    fmt: str | None = None,
    *,
    lang: str | None = None,
    images: str | Path | None = None,
    allow_empty_text: bool = False,
) -> list[Caption]:
    """Read a caption corpus in any supported format.

    `lang` overrides (or, for TSV/CSV, supplies) the language; `images` overrides the image-list file of the
    Multi30K format. Duplicate ids, empty files and empty captions are user errors naming file and line.
    """
    return list(iter_captions(path, fmt, lang=lang, images=images, allow_empty_text=allow_empty_text))


def iter_captions(
    path: str | Path,
    fmt: str | None = None,
    *,
    lang: str | None = None,
    images: str | Path | None = None,
    allow_empty_text: bool = False,
    new_map: Callable[[], MutableMapping[str, int]] = dict,
) -> Iterator[Caption]:
    """`read_captions` one record at a time, for stages that stream a corpus.

    What grows with the corpus (the ids seen, per-image caption counts) lives in mappings from `new_map`:
    dicts by default; a stage that must stay within a memory bound passes a disk-backed mapping.

    The errors are read_captions' and come in its order: a malformed record anywhere before the first
    duplicate id or empty caption (those are raised once the whole file has parsed), then an empty file.
    A consumer must not commit anything before the iterator is exhausted.
    """
    path = Path(path)
    if not path.exists():
        raise UserError("file not found", path=path)
    if path.is_dir():
        raise UserError("is a directory, expected a caption file", path=path)
    fmt = fmt or detect_format(path, images)
    if fmt not in _READERS:
        raise UserError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    seen = new_map()
    problem: UserError | None = None
    n = 0
    for n, rec in enumerate(_READERS[fmt](path, lang=lang, images=images, new_map=new_map), 1):
        if problem is None:
            first = seen.setdefault(rec.id, n)
            if first != n:
                problem = UserError(f"duplicate id {rec.id!r} (first at record {first})", path=path, line=n)
            elif not allow_empty_text and not rec.text.strip():
                problem = UserError(f"empty caption for id {rec.id!r}", path=path, line=n)
        yield rec
    if not n:
        raise UserError("no captions (empty file)", path=path)
    if problem is not None:
        raise problem


def _read_jsonl(path: Path, lang: str | None = None, images: Any = None, new_map: Any = dict) -> Iterator[Caption]:
    for i, line in enumerate(iter_lines(path), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"malformed JSON ({exc.msg})", path=path, line=i) from exc
        if not isinstance(obj, dict):
            raise UserError("expected a JSON object", path=path, line=i)
        missing = [k for k in ("id", "text") if k not in obj]
        if missing:
            raise UserError(f"missing field(s) {', '.join(missing)}", path=path, line=i)
        obj.setdefault("image", image_of(obj["id"]) if isinstance(obj["id"], str) else None)
        if lang:
            obj["lang"] = lang
        if "lang" not in obj:
            raise UserError("missing field 'lang' (or pass --lang)", path=path, line=i)
        for key in ("id", "image", "lang", "text"):  # a list/number/object/null id would crash a later stage
            if not isinstance(obj[key], str):
                raise UserError(f"field {key!r} must be a string, got {type(obj[key]).__name__} "
                                f"{json.dumps(obj[key])[:40]}", path=path, line=i)
            if not obj[key].isascii():
                try:  # JSON's "\\ud800" escape decodes to a lone surrogate, which no UTF-8 file can hold
                    obj[key].encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise UserError(f"field {key!r} holds a lone surrogate ({exc.object[exc.start]!a}), not text",
                                    path=path, line=i) from exc
        yield Caption.from_dict(obj)


def _aligned(path: Path, image_list: Path, lang: str, k: int | None,
             new_map: Callable[[], MutableMapping[str, int]] = dict) -> Iterator[Caption]:
    n_texts = sum(1 for _ in iter_lines(path))  # a first pass: both files are checked before any record
    n_names = sum(1 for _ in iter_lines(image_list))
    if n_texts != n_names:
        raise UserError(f"{n_texts} captions but {n_names} image names in {image_list}", path=path)
    counts = new_map()  # k of each image name (task 1)
    for i, (text, name) in enumerate(zip(iter_lines(path), iter_lines(image_list), strict=True), 1):
        name = name.strip()
        if not name:
            raise UserError("empty image name", path=image_list, line=i)
        if k is None:
            n = counts.get(name, 0)
            counts[name] = n + 1
        else:
            n = k
        yield Caption(id=f"{name}#{n}", image=name, lang=lang, text=text.strip(), extra={})


def _read_multi30k(path: Path, lang: str | None = None, images: str | Path | None = None,
                   new_map: Callable[[], MutableMapping[str, int]] = dict) -> Iterator[Caption]:
    m2 = _TASK2.match(path.name)
    if m2 and (images or (path.parent / f"{m2['split']}_images.txt").exists()):
        image_list = Path(images) if images else path.parent / f"{m2['split']}_images.txt"
        yield from _aligned(path, image_list, lang or m2["lang"], int(m2["k"]) - 1, new_map)
        return
    m1 = _TASK1.match(path.name)
    if not m1:
        raise UserError("Multi30K files are named <split>.<lang> or <split>.<k>.<lang>", path=path)
    image_list = Path(images) if images else path.parent / f"{m1['split']}.txt"
    if not image_list.exists():
        raise UserError(f"image list {image_list.name} not found beside it (pass --images)", path=path)
    yield from _aligned(path, image_list, lang or m1["lang"], None, new_map)


def _nrccr_lang(tag: str) -> str | None:
    m = _NRCCR_LANG.match(tag)
    if not m:
        return None
    return "en" if tag.endswith("2enc") or tag == "enc" else m["lang"]


def _read_nrccr(path: Path, lang: str | None = None, images: Any = None, new_map: Any = dict) -> Iterator[Caption]:
    for i, line in enumerate(iter_lines(path), 1):
        if not line.strip():
            continue
        parts = line.split(" ", 1)
        if len(parts) < 2:
            raise UserError("expected '<image>#<tag>#<k> caption'", path=path, line=i)
        cap_id, text = parts[0], parts[1].strip()
        fields = cap_id.split("#")
        if len(fields) >= 3:
            image, tag, k = fields[0], fields[1], fields[-1]
            rec_lang = lang or _nrccr_lang(tag)
            extra = {"orig_id": cap_id}
            if tag.endswith("2enc") and tag != "enc":
                extra["back_translation"] = True
        elif len(fields) == 2:
            image, k = fields
            rec_lang = lang
            extra = {}
        else:
            raise UserError(f"caption id {cap_id!r} has no '#'", path=path, line=i)
        if not rec_lang:
            raise UserError(f"cannot tell the language of {cap_id!r}; pass --lang", path=path, line=i)
        yield Caption(id=f"{image}#{k}", image=image, lang=rec_lang, text=text, extra=extra)


def _read_tsv(path: Path, lang: str | None = None, images: Any = None, new_map: Any = dict) -> Iterator[Caption]:
    for i, line in enumerate(iter_lines(path), 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise UserError("expected 'id<TAB>text'", path=path, line=i)
        cap_id, text = line.split("\t", 1)
        cap_id = cap_id.strip()
        if not cap_id:
            raise UserError("empty id", path=path, line=i)
        yield Caption(id=cap_id, image=image_of(cap_id), lang=lang or "und", text=text.strip())


def _read_table(path: Path, lang: str | None = None, images: Any = None, new_map: Any = dict) -> Iterator[Caption]:
    import datasets  # heavy: imported only for CSV/Parquet

    kind = "csv" if path.suffix.lower() == ".csv" else "parquet"
    try:
        ds = datasets.load_dataset(kind, data_files=str(path), split="train")
    except Exception as exc:  # datasets raises many types for unreadable tables
        raise UserError(f"cannot read as {kind}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                        path=path) from exc
    cols = set(ds.column_names)
    if "text" not in cols or not ({"id", "image"} & cols):
        raise UserError(f"needs a 'text' column and an 'id' or 'image' column, has {sorted(cols)}", path=path)
    counts: dict[str, int] = {}
    for i, row in enumerate(ds, 2):  # line 1 is the header in CSV
        image = str(row["image"]) if row.get("image") is not None else None
        if row.get("id") is not None:
            cap_id = str(row["id"])
        else:
            n = counts.get(image, 0)
            counts[image] = n + 1
            cap_id = f"{image}#{n}"
        rec_lang = lang or row.get("lang")
        if not rec_lang:
            raise UserError("no 'lang' column; pass --lang", path=path, line=i)
        extra = {k: v for k, v in row.items() if k not in ("id", "image", "lang", "text") and v is not None}
        text = row["text"] if row["text"] is not None else ""
        yield Caption(id=cap_id, image=image or image_of(cap_id), lang=str(rec_lang), text=str(text).strip(),
                      extra=extra)


_READERS = {
    "jsonl": _read_jsonl,
    "multi30k": _read_multi30k,
    "nrccr": _read_nrccr,
    "tsv": _read_tsv,
    "csv": _read_table,
    "parquet": _read_table,
}


# ---------------------------------------------------------------------------------------------- writing
def caption_line(rec: Caption | dict[str, Any]) -> str:
    obj = rec.to_dict() if isinstance(rec, Caption) else rec
    return json.dumps(obj, ensure_ascii=False) + "\n"


def write_captions(path: str | Path, records: Iterable[Caption | dict[str, Any]]) -> int:
    """Write a JSONL caption corpus atomically; returns the number of records."""
    n = 0
    with atomic_open(path, "w") as fh:
        for rec in records:
            fh.write(caption_line(rec))
            n += 1
    return n


_SUFFIXES = (".jsonl.gz", ".jsonl", ".json", ".caption.txt", ".tsv", ".csv", ".parquet", ".txt")


def corpus_language(records: list[Caption], path: str | Path, *, flag: str = "--captions") -> str:
    """The language code of a one-language caption file: its records' `lang`, else the file name's suffix.

    Records that agree on one code (not ``und``, the TSV reader's "unknown") give it; otherwise the last
    dotted part of the name before any format extension (``test_2016_flickr.de``, ``val.zh_hans.jsonl``).
    Anything else is a user error: several languages are told apart by these codes.
    """
    langs = {r.lang for r in records} - {"und"}
    if len(langs) == 1 and len({r.lang for r in records}) == 1:
        return langs.pop()
    name = Path(path).name
    for ext in _SUFFIXES:
        if name.lower().endswith(ext) and name.lower() != ext:
            name = name[: -len(ext)]
            break
    if re.fullmatch(_LANG, name):  # translate's OUT/<lang>.jsonl
        return name
    m = _TASK1.match(name)
    if m:
        return m["lang"]
    found = ", ".join(sorted({r.lang for r in records}))
    raise UserError(f"{flag}: cannot tell the file's language (records say {found}; no .<lang> suffix in the "
                    "name); name it like test.de or give every record the same 'lang'", path=path)


def unique_languages(codes: list[str], paths: list[str | Path], flag: str) -> None:
    """Several files of one flag must be distinct languages: their sections and sampling are per code."""
    seen: dict[str, str | Path] = {}
    for code, path in zip(codes, paths, strict=True):
        if code in seen:
            raise UserError(f"{flag}: {seen[code]} and {path} are both language {code!r} (one file per language)")
        seen[code] = path


def pair_by_id(src: list[Caption], tgt: list[Caption], *, src_name: str = "--src",
               tgt_name: str = "--tgt") -> list[tuple[Caption, Caption]]:
    """Pair two corpora by caption id (in `tgt` order); ids present in only one side are an error."""
    by_id = {c.id: c for c in src}
    missing = [c.id for c in tgt if c.id not in by_id]
    if missing:
        raise UserError(f"{len(missing)} ids of {tgt_name} have no caption in {src_name} "
                        f"(first: {missing[0]!r})")
    return [(by_id[c.id], c) for c in tgt]
