"""docs/cli.md's table of shared flags holds for every command's parser: one name, one meaning."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
import typer.main

from cl2cm.cli import app, main

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
COMMAND = typer.main.get_command(app)


def _parsers() -> dict[str, set[str]]:
    """{flag: commands that take it} (the visible name each option is known by)."""
    found: dict[str, set[str]] = defaultdict(set)
    for name, cmd in COMMAND.commands.items():  # type: ignore[attr-defined]
        for p in cmd.params:
            if p.param_type_name == "option" and not p.hidden:
                found[p.opts[0]].add(name)
    return found


def _table(title: str) -> list[list[str]]:
    text = DOC.read_text()
    section = text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| flag") and not line.startswith("| old")]


def test_the_shared_flags_table_is_every_commands_truth() -> None:
    parsers = _parsers()
    documented: dict[str, set[str]] = {}
    for flags, _meaning, commands in _table("Shared flags"):
        names = {c.strip() for c in commands.split(",")}
        for flag in re.findall(r"`(--[a-z0-9-]+)`", flags):
            if flag in parsers:  # a primary name (`--no-normalize` is the same option's other half)
                documented[flag] = names
    for flag, names in documented.items():
        assert parsers[flag] == names, f"{flag}: docs/cli.md says {sorted(names)}, the parsers {sorted(parsers[flag])}"
    shared = {flag for flag, names in parsers.items() if len(names) > 1} - {"--help"}
    assert not shared - set(documented), f"shared flags missing from docs/cli.md: {sorted(shared - set(documented))}"


@pytest.mark.parametrize(("command", "old", "new"), [
    (row[0].strip("`").split()[0], row[0].strip("`").split()[1].rstrip("`,"), row[1].strip("`").split()[-1])
    for row in _table("Renamed flags") if "removed" not in row[1]
])
def test_each_renamed_flag_is_still_accepted_hidden(command: str, old: str, new: str) -> None:
    cmd = COMMAND.commands[command]  # type: ignore[attr-defined]
    hidden = {o for p in cmd.params if p.hidden for o in p.opts}
    visible = {o for p in cmd.params if not p.hidden for o in p.opts}
    assert old in hidden and new in visible and old not in visible


def test_the_old_name_warns_in_one_line_and_does_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--captions", "--captions-per-image"):
        with pytest.raises(SystemExit):
            main(["demo", "--generate", str(tmp_path / "w"), flag, "9"])
        assert f"'{flag}': 9 is out of range" in capsys.readouterr().err
    main(["demo", "--generate", str(tmp_path / "w"), "--train", "2", "--val", "1", "--test", "1", "--captions", "2",
          "-q"])
    assert capsys.readouterr().err == ("cl2cm: warning: --captions is deprecated (kept for one release): use "
                                       "--captions-per-image\n")
    en = (tmp_path / "w" / "val.en.jsonl").read_text().splitlines()
    assert len(en) == 2  # one image × 2 captions: the old flag set the same field
