"""Fixtures of the retrieval tests: run the real CLI entry point in-process."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cl2cm.cli import main


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str]], tuple[int, str, str]]:
    """`cli(argv) -> (exit code, stdout, stderr)` through `cl2cm.cli.main`, as the console script runs it."""

    def run(argv: list[str]) -> tuple[int, str, str]:
        code = 0
        try:
            main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run
