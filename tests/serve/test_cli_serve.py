"""`cl2cm serve` user mistakes: one stderr line naming the flag, exit 2, before anything is loaded."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from .conftest import DemoRun


def args(demo_run: DemoRun, *extra: str) -> list[str]:
    return ["serve", "--model", str(demo_run.student), "--features", str(demo_run.features), *extra]


def test_missing_or_wrong_paths(demo_run: DemoRun, cli, tmp_path: Path) -> None:
    code, _, err = cli(args(demo_run, "--root", str(tmp_path / "nope"), "--port", "0"))
    assert code == 2 and "--root: not a directory" in err and len(err.splitlines()) == 1
    code, _, err = cli(["serve", "--model", str(demo_run.features), "--features", str(demo_run.features),
                        "--port", "0"])
    assert code == 2 and len(err.splitlines()) == 1 and str(demo_run.features) in err
    code, _, err = cli(args(demo_run, "--index", "hnsw", "--port", "0"))
    assert code == 2 and "--index 'hnsw': expected one of exact, ivf" in err
    code, _, err = cli(args(demo_run, "--host", "no-such-host.invalid", "--port", "0"))
    assert code == 2 and "--host 'no-such-host.invalid'" in err


def test_port_in_use(demo_run: DemoRun, cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, _, err = cli(args(demo_run, "--port", str(port)))
    assert code == 2 and f"--port {port}: 127.0.0.1:{port} is already in use" in err


def test_missing_extra_is_a_one_line_hint(demo_run: DemoRun, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cl2cm.serve.app", None)  # as if fastapi were not installed
    code, _, err = cli(args(demo_run, "--port", "0"))
    assert code == 2 and "pip install 'cl2cm[serve]'" in err and len(err.splitlines()) == 1


def test_bound_socket_is_tcp_with_nodelay() -> None:
    """asyncio only sets TCP_NODELAY on proto=TCP sockets; without it keep-alive answers stall 40 ms."""
    from cl2cm.serve.server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert sock.getsockname()[0] == "127.0.0.1" and sock.getsockname()[1] > 0
    finally:
        sock.close()


def test_bad_captions_and_examples_files(demo_run: DemoRun, cli, tmp_path: Path) -> None:
    code, _, err = cli(args(demo_run, "--captions", str(tmp_path), "--port", "0"))  # a directory
    assert code == 2 and "--captions: not a file" in err and len(err.splitlines()) == 1
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(b"\xff\xfe\x00 not json\n")
    code, _, err = cli(args(demo_run, "--captions", str(garbage), "--port", "0"))
    assert code == 2 and len(err.splitlines()) == 1 and "garbage.jsonl" in err
    empty = tmp_path / "examples.txt"
    empty.write_text("\n \n", encoding="utf-8")
    code, _, err = cli(args(demo_run, "--examples", str(empty), "--port", "0"))
    assert code == 2 and "--examples: no example query" in err and len(err.splitlines()) == 1
    code, _, err = cli(args(demo_run, "--max-upload-mb", "0", "--port", "0"))
    assert code == 2 and "--max-upload-mb" in err
