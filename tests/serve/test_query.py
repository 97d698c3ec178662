"""`/api/search` parameter parsing: every malformed query string is one BadRequest line, never a crash."""

from __future__ import annotations

import pytest

from cl2cm.serve.query import DEFAULT_K, BadRequest, parse_search_params


@pytest.mark.parametrize(("raw", "expected"), [
    (b"q=ein+Hund", ("ein Hund", DEFAULT_K)),
    (b"q=ein%20Hund&k=3", ("ein Hund", 3)),
    (b"q=%20%20Stra%C3%9Fe%20&k=12", ("Straße", 12)),  # stripped, UTF-8 decoded
    (b"k=1&q=x&extra=ignored", ("x", 1)),
    (b"q=" + b"a" * 500, ("a" * 500, DEFAULT_K)),
])
def test_valid(raw: bytes, expected: tuple[str, int]) -> None:
    assert parse_search_params(raw, max_k=12) == expected


@pytest.mark.parametrize(("raw", "message"), [
    (b"", "missing q"),
    (b"k=3", "missing q"),
    (b"q=", "empty query text"),
    (b"q=%20%20", "empty query text"),
    (b"q=" + b"a" * 501, "501 characters, at most 500"),
    (b"q=%FF%FE", "not valid UTF-8"),
    (b"q=\xff", "not valid UTF-8"),
    (b"q=a%00b", "control characters"),
    (b"q=a%7Fb", "control characters"),  # DEL
    (b"q=a%C2%9Bb", "control characters"),  # U+009B, a C1 control (CSI)
    (b"q=a&q=b", "q: given 2 times"),
    (b"q=a&k=1&k=2", "k: given 2 times"),
    (b"q=a&k=0", "k: 0 is out of range, expected 1 to 12"),
    (b"q=a&k=13", "k: 13 is out of range"),
    (b"q=a&k=-1", "is not a positive integer"),
    (b"q=a&k=abc", "is not a positive integer"),
    (b"q=a&k=1.5", "is not a positive integer"),
    (b"q=a&k=1e3", "is not a positive integer"),
    (b"q=a&k=", "is not a positive integer"),
    (b"q=a&k=99999999999999999999", "k: 99999999999999999999 is out of range, expected 1 to 12"),
    (b"q=a&k=1000000000", "k: 1000000000 is out of range"),
    (b"q=a&k=%D9%A3", "is not a positive integer"),  # Arabic-Indic digit three: int() would accept it
])
def test_invalid(raw: bytes, message: str) -> None:
    with pytest.raises(BadRequest) as exc:
        parse_search_params(raw, max_k=12)
    assert exc.value.status == 400
    assert message in str(exc.value) and "\n" not in str(exc.value)
