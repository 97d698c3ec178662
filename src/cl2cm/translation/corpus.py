"""The caption corpus of a translate run, indexed on disk so that memory does not grow with its length.

`translate` needs the whole corpus at three moments: to deduplicate it and check it (ids, languages, its
digest), to sort its distinct sentences by length (the chunks are cut from that global order), and to write
`<lang>.jsonl` in input order with each caption's translation. Held in Python that is ~0.5 KB per caption.
Here the records stream through in windows of `WINDOW` into a private SQLite database (a temporary file that
SQLite unlinks as soon as it opens it, so nothing outlives the process, SIGKILL included), whose page cache
is capped at `CACHE_MB`; sorting and joining happen there. Memory holds one window, one chunk, one row of
the merge: never the corpus.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

from cl2cm.artifacts.captions import Caption, iter_captions
from cl2cm.errors import UserError

WINDOW = 4096  # records (scan) or sentences (token counts) per round trip to the database
CACHE_MB = 16  # SQLite's page cache; the rest of the index stays in its (unlinked) file


class _DiskMap(MutableMapping[str, int]):
    """A str → int mapping in one table of the index (the caption reader's ids seen, per-image counts)."""

    def __init__(self, db: sqlite3.Connection, table: str) -> None:
        self.db, self.table = db, table
        db.execute(f"CREATE TABLE {table} (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID")

    def __getitem__(self, key: str) -> int:
        row = self.db.execute(f"SELECT v FROM {self.table} WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return row[0]

    def __setitem__(self, key: str, value: int) -> None:
        self.db.execute(f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?)", (key, value))

    def __delitem__(self, key: str) -> None:
        if self.db.execute(f"DELETE FROM {self.table} WHERE k = ?", (key,)).rowcount == 0:
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for (k,) in self.db.execute(f"SELECT k FROM {self.table}"))

    def __len__(self) -> int:
        return self.db.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0]

    def setdefault(self, key: str, default: int = 0) -> int:  # one statement in the common (new key) case
        if self.db.execute(f"INSERT OR IGNORE INTO {self.table} VALUES (?, ?)", (key, default)).rowcount:
            return default
        return self[key]


class CorpusIndex:
    """One scan of a caption file: its records, distinct sentences, digest and language, on disk.

    Built by `CorpusIndex.scan` (every user error of the reader, and foreign-language records, are raised
    before it returns, so a caller commits nothing for a bad corpus); closed with the `with` block.
    """

    def __init__(self) -> None:
        check_scratch_env()
        try:
            self.db = sqlite3.connect("", isolation_level=None)  # "": a private on-disk temporary database
            for pragma in ("journal_mode = OFF", "synchronous = OFF", "temp_store = FILE",
                           f"cache_size = {-CACHE_MB * 1024}"):
                self.db.execute(f"PRAGMA {pragma}")
            self.db.executescript("""
                CREATE TABLE rec (n INTEGER PRIMARY KEY, id TEXT, image TEXT, text TEXT);
                CREATE TABLE sent (sid INTEGER PRIMARY KEY, text TEXT UNIQUE);
                CREATE TABLE foreign_lang (lang TEXT PRIMARY KEY) WITHOUT ROWID;
                CREATE TABLE tok (lang TEXT, sid INTEGER, raw INTEGER, len INTEGER, PRIMARY KEY (lang, sid))
                    WITHOUT ROWID;
                CREATE TABLE plan (lang TEXT, pos INTEGER, sid INTEGER, PRIMARY KEY (lang, pos)) WITHOUT ROWID;
                CREATE TABLE tr (lang TEXT, src TEXT, text TEXT, back TEXT, truncated INTEGER,
                                 PRIMARY KEY (lang, src)) WITHOUT ROWID;
            """)
            self.db.execute("BEGIN")  # one transaction, never committed: the database dies with the process
        except sqlite3.OperationalError as exc:
            raise _environment(exc) from exc
        self.records = 0
        self.distinct = 0
        self.digest = ""
        self._maps = 0

    def __enter__(self) -> CorpusIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()

    def _new_map(self) -> MutableMapping[str, int]:
        self._maps += 1
        return _DiskMap(self.db, f"map{self._maps}")

    # ------------------------------------------------------------------------------------------- scan
    @classmethod
    def scan(cls, path: str | Path, *, source_lang: str, fmt: str | None = None, lang: str | None = None,
             images: str | None = None) -> CorpusIndex:
        """Read `path` once: records in input order, distinct sentences in first-seen order, the digest."""
        index = cls()
        try:
            index._scan(path, source_lang, fmt, lang, images)
        except BaseException:
            index.db.close()
            raise
        return index

    def _scan(self, path: str | Path, source_lang: str, fmt: str | None, lang: str | None,
              images: str | None) -> None:
        h = hashlib.sha256()
        window: list[Caption] = []
        try:
            for rec in iter_captions(path, fmt, lang=lang, images=images, new_map=self._new_map):
                h.update(json.dumps([rec.id, rec.image, rec.text], ensure_ascii=False).encode())
                h.update(b"\n")
                window.append(rec)
                if len(window) == WINDOW:
                    self._store(window, source_lang)
                    window = []
            self._store(window, source_lang)
        except sqlite3.OperationalError as exc:
            raise _environment(exc) from exc
        foreign = [lang for (lang,) in self.db.execute("SELECT lang FROM foreign_lang ORDER BY lang")]
        if foreign:
            raise UserError(f"holds captions in {', '.join(map(repr, foreign))}, not the source language "
                            f"{source_lang!r} (pass --lang or --from)", path=path)
        self.digest = h.hexdigest()
        self.distinct = self.db.execute("SELECT count(*) FROM sent").fetchone()[0]

    def _store(self, window: list[Caption], source_lang: str) -> None:
        start = self.records
        self.records += len(window)
        self.db.executemany("INSERT INTO rec VALUES (?, ?, ?, ?)",
                            ((start + k, r.id, r.image, r.text) for k, r in enumerate(window)))
        self.db.executemany("INSERT OR IGNORE INTO sent (text) VALUES (?)", ((r.text,) for r in window))
        self.db.executemany("INSERT OR IGNORE INTO foreign_lang VALUES (?)",
                            ((r.lang,) for r in window if r.lang not in (source_lang, "und")))

    # ------------------------------------------------------------------------------------------- plan
    def plan(self, lang: str, count_tokens: Callable[[list[str]], list[int]], max_tokens: int) -> int:
        """Token-count every distinct sentence for target `lang` and order them longest first (ties in
        first-seen order); returns how many are longer than `max_tokens` (they will be truncated)."""
        try:
            last = 0
            while True:
                rows = self.db.execute("SELECT sid, text FROM sent WHERE sid > ? ORDER BY sid LIMIT ?",
                                       (last, WINDOW)).fetchall()
                if not rows:
                    break
                raw = count_tokens([text for _, text in rows])
                self.db.executemany("INSERT OR REPLACE INTO tok VALUES (?, ?, ?, ?)",
                                    ((lang, sid, n, min(n, max_tokens)) for (sid, _), n in zip(rows, raw, strict=True)))
                last = rows[-1][0]
            self.db.execute("DELETE FROM plan WHERE lang = ?", (lang,))
            self.db.execute("INSERT INTO plan SELECT lang, row_number() OVER (ORDER BY len DESC, sid) - 1, sid "
                            "FROM tok WHERE lang = ?", (lang,))
            return self.db.execute("SELECT count(*) FROM tok WHERE lang = ? AND raw > ?",
                                   (lang, max_tokens)).fetchone()[0]
        except sqlite3.OperationalError as exc:
            raise _environment(exc) from exc

    def sentences(self, lang: str, positions: range) -> list[tuple[str, int, int]]:
        """(text, raw length, truncated length) of the sentences at `positions` of `lang`'s order."""
        try:
            return self.db.execute(
                "SELECT s.text, t.raw, t.len FROM plan p JOIN tok t ON t.lang = p.lang AND t.sid = p.sid "
                "JOIN sent s ON s.sid = p.sid WHERE p.lang = ? AND p.pos >= ? AND p.pos < ? ORDER BY p.pos",
                (lang, positions.start, positions.stop)).fetchall()
        except sqlite3.OperationalError as exc:
            raise _environment(exc) from exc

    # ------------------------------------------------------------------------------------------ merge
    def add_translations(self, lang: str, rows: Iterable[dict[str, Any]]) -> int:
        """Load a committed chunk's rows (keyed by source sentence, a later row winning); returns how many
        distinct sources `lang` now has."""
        try:
            self.db.executemany("INSERT OR REPLACE INTO tr VALUES (?, ?, ?, ?, ?)",
                                ((lang, r["src"], r["text"], r.get("back"), int(bool(r.get("truncated"))))
                                 for r in rows))
            return self.db.execute("SELECT count(*) FROM tr WHERE lang = ?", (lang,)).fetchone()[0]
        except sqlite3.OperationalError as exc:
            raise _environment(exc) from exc

    def joined(self, lang: str) -> Iterator[tuple[str, str, str, dict[str, Any] | None]]:
        """(id, image, source, translation row or None) of every record, in input order, one at a time."""
        try:
            cursor = self.db.execute(
                "SELECT r.id, r.image, r.text, t.src IS NOT NULL, t.text, t.back, t.truncated FROM rec r "
                "LEFT JOIN tr t ON t.lang = ? AND t.src = r.text ORDER BY r.n", (lang,))
            for cap_id, image, text, found, tr_text, back, truncated in cursor:
                part: dict[str, Any] | None = None
                if found:
                    part = {"text": tr_text}
                    if back is not None:
                        part["back"] = back
                    if truncated:
                        part["truncated"] = True
                yield cap_id, image, text, part
        except sqlite3.OperationalError as exc:
            raise _environment(exc) from exc


def _environment(exc: sqlite3.OperationalError) -> OSError:
    """SQLite's "disk is full" / cannot-open errors as the OSError the CLI reports as an environment failure,
    naming the directory SQLite keeps its temporary files in."""
    message = str(exc)
    code = errno.ENOSPC if "full" in message else errno.EACCES if "unable to open" in message else errno.EIO
    return OSError(code, f"translate's scratch index of the corpus: {message}", scratch_dir())


def check_scratch_env() -> None:
    """A set $SQLITE_TMPDIR or $TMPDIR that is not a writable directory is reported (SQLite would silently
    use the next directory of its list, perhaps a small /tmp the user meant to avoid)."""
    for var in ("SQLITE_TMPDIR", "TMPDIR"):
        d = os.environ.get(var)
        if not d:
            continue
        if not os.path.isdir(d):
            raise OSError(errno.EACCES, f"{var} is not a directory (translate's scratch index goes there); fix or unset it", d)
        if not os.access(d, os.W_OK | os.X_OK) or _read_only(d):
            raise OSError(errno.EROFS, f"{var} is not writable (translate's scratch index goes there); fix or "
                          "unset it", d)


def _read_only(d: str) -> bool:
    """Mounted read-only (access() says writable for root, so ask the filesystem)."""
    try:
        return bool(os.statvfs(d).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def scratch_dir() -> str:
    """Where SQLite puts the index (its own search order): $SQLITE_TMPDIR, $TMPDIR, /var/tmp, /usr/tmp, /tmp."""
    for d in (os.environ.get("SQLITE_TMPDIR"), os.environ.get("TMPDIR"), "/var/tmp", "/usr/tmp", "/tmp"):
        if d and os.path.isdir(d) and os.access(d, os.W_OK | os.X_OK):
            return d
    return "."
