"""`eval` over several target languages at once: which file is which language, and its fusion file.

`--captions` repeated (one file per language) evaluates one model against one gallery for every
language (`retrieval.evaluate.run_eval`): each file is ranked exactly as a single `--captions` run would
rank it (so a language's section equals the JSON of its own run), under the language's code
(the records' ``lang``, else the file's ``.<lang>`` suffix; `corpus_language`). ``"mean"`` averages the
languages unweighted (`mean_over_languages`). `--fuse-translation` is given once per `--captions` in the
same order, or as ``LANG=FILE`` for the languages that have one.

Side outputs keep one file per language: `--ranks` lines carry ``"lang"``, `--plot` writes
``<stem>-<lang><suffix>``, `--save-embeddings` writes ``DIR/<lang>/{queries,gallery}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cl2cm.artifacts.captions import corpus_language, read_captions
from cl2cm.errors import UserError


def as_list(value: Path | Sequence[Path] | None) -> list[Path]:
    if value is None:
        return []
    return [Path(value)] if isinstance(value, (str, Path)) else [Path(v) for v in value]


def language_of(path: Path, fmt: str | None, flag: str = "--captions") -> str:
    """The code a caption file's section is keyed by."""
    return corpus_language(read_captions(path, fmt), path, flag=flag)


def assign_fusion(codes: list[str], captions: list[Path], fuse: list[Path]) -> dict[str, Path | None]:
    """Each language's --fuse-translation file: one per --captions in order, or LANG=FILE entries."""
    if not fuse:
        return dict.fromkeys(codes)
    keyed = [str(f).split("=", 1) for f in fuse]
    if all(len(k) == 2 and k[0].isalpha() and not Path(f).exists() for k, f in zip(keyed, fuse, strict=True)):
        unknown = next((k[0] for k in keyed if k[0] not in codes), None)
        if unknown is not None:
            raise UserError(f"--fuse-translation {unknown}=...: no --captions file is in {unknown!r} "
                            f"(they are {', '.join(codes)})")
        by_code = {code: Path(p) for code, p in keyed}
        if len(by_code) != len(keyed):
            raise UserError("--fuse-translation: a language is given twice")
        return {code: by_code.get(code) for code in codes}
    if len(fuse) != len(captions):
        raise UserError(f"--fuse-translation: {len(fuse)} file(s) for {len(captions)} --captions; give one per "
                        f"--captions (same order) or LANG=FILE for the languages that have one ({', '.join(codes)})")
    return dict(zip(codes, fuse, strict=True))


def per_language_path(path: Path, code: str) -> Path:
    """`--plot p.png` of language `code`: ``p-<code>.png`` (no code: `path` itself)."""
    return path.with_name(f"{path.stem}-{code}{path.suffix}") if code else path
