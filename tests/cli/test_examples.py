"""Every example in every `--help` and in README/docs is one command that the real parser accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import typer.main

from cl2cm.cli import app

ROOT = Path(__file__).resolve().parents[2]
COMMAND = typer.main.get_command(app)


def _help_examples() -> list[tuple[str, str]]:
    """(where, command line) of every line of a command's help that starts with `cl2cm `."""
    out = []
    for name, cmd in sorted(COMMAND.commands.items()):  # type: ignore[attr-defined]
        for line in (cmd.help or "").splitlines():
            if line.strip().startswith("cl2cm "):
                out.append((f"cl2cm {name} --help", line.strip()))
    return out


def _doc_examples() -> list[tuple[str, str]]:
    """(file:line, command) of every `cl2cm ...` line of a fenced code block, backslash continuations joined."""
    out = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        block = False
        lines = path.read_text().splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.strip().startswith("```"):
                block = not block
            elif block and re.match(r"\s*(\$ )?cl2cm ", line):
                start, text = i, line.strip().removeprefix("$ ")
                while text.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    text = text[:-1] + " " + lines[i].strip()
                out.append((f"{path.relative_to(ROOT)}:{start + 1}", text))
            i += 1
    return out


def _parse(text: str) -> None:
    argv = shlex.split(text, comments=True)
    assert argv[0] == "cl2cm", text
    name, args = argv[1], argv[2:]
    assert "..." not in args, f"not runnable as printed: {text}"
    cmd = COMMAND.commands[name]  # type: ignore[attr-defined]
    ctx = cmd.make_context(f"cl2cm {name}", list(args))  # parses and checks, runs nothing
    ctx.close()


@pytest.mark.parametrize(("where", "text"), _help_examples(), ids=lambda v: v if " " not in v else None)
def test_help_examples_parse(where: str, text: str) -> None:
    _parse(text)


@pytest.mark.parametrize(("where", "text"), _doc_examples(), ids=lambda v: v if " " not in v else None)
def test_doc_examples_parse(where: str, text: str) -> None:
    try:
        _parse(text)
    except click.exceptions.ClickException as exc:  # pragma: no cover - the message says which example
        pytest.fail(f"{where}: {text}: {exc.format_message()}")


def test_there_are_examples() -> None:
    assert len(_help_examples()) >= 15 and len(_doc_examples()) >= 30
