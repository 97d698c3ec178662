"""Validation of `/api/search` parameters from the raw query string (so non-UTF-8 is refused, not mangled).

Starlette decodes query strings leniently (invalid UTF-8 becomes U+FFFD), which would silently search for a
different text; parsing the raw bytes strictly here turns every malformed request into one 4xx line.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

DEFAULT_K = 10
MAX_K = 100  # the documented cap on k (a server option can lower or raise it)
MAX_QUERY_CHARS = 500  # longer texts are refused: the text encoder truncates far earlier anyway

_DIGITS = re.compile(r"[0-9]+")


class BadRequest(Exception):
    """A request the client must fix: answered with `status` and a one-line JSON error."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def query_params(raw: bytes, keys: tuple[str, ...] = ("q", "k")) -> dict[str, str]:
    """The raw query string strictly decoded; each of `keys` at most once (other keys are ignored)."""
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("the query string is not valid UTF-8") from None
    params: dict[str, list[str]] = {}
    for key, value in pairs:
        params.setdefault(key, []).append(value)
    for key in keys:
        if len(params.get(key, [])) > 1:
            raise BadRequest(f"{key}: given {len(params[key])} times, expected once")
    return {key: values[0] for key, values in params.items() if key in keys}


def parse_k(params: dict[str, str], *, max_k: int) -> int:
    """`k` (default DEFAULT_K, capped at it when the cap is lower): a plain decimal from 1 to `max_k`."""
    k_raw = params.get("k", str(min(DEFAULT_K, max_k))).strip()
    if not _DIGITS.fullmatch(k_raw):
        raise BadRequest(f"k: {k_raw[:20]!r} is not a positive integer")
    digits = k_raw.lstrip("0") or "0"  # a 10**100 k is out of range, not "not a positive integer"
    if len(digits) > 9 or not 1 <= int(digits) <= max_k:
        raise BadRequest(f"k: {digits[:20]}{'...' if len(digits) > 20 else ''} is out of range, expected 1 to "
                         f"{max_k}")
    k = int(digits)
    return k


def parse_search_params(raw: bytes, *, max_k: int, max_chars: int = MAX_QUERY_CHARS) -> tuple[str, int]:
    """(query text, k) from a raw query string; `max_k` is already capped at the gallery size."""
    params = query_params(raw)
    if "q" not in params:
        raise BadRequest("missing q (the query text)")
    text = params["q"].strip()
    if not text:
        raise BadRequest("q: empty query text")
    if len(text) > max_chars:
        raise BadRequest(f"q: {len(text)} characters, at most {max_chars} allowed")
    if any((ord(c) < 32 or 127 <= ord(c) < 160) and c not in "\t\n\r\x85" for c in text):  # C0, DEL, C1
        raise BadRequest("q: contains control characters")
    return text, parse_k(params, max_k=max_k)


def parse_item_params(raw: bytes, *, max_k: int | None = None) -> tuple[str, int]:
    """(gallery id, k) of `/api/similar?id=ID&k=K` and `/api/item?id=ID` (k is 0 there)."""
    params = query_params(raw, ("id", "k"))
    item = params.get("id", "")
    if not item:
        raise BadRequest("missing id (a gallery item id)")
    return item, parse_k(params, max_k=max_k) if max_k is not None else 0
