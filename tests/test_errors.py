"""`ConfigError`: the library names config fields, each interface renders them its own way."""

from __future__ import annotations

import pytest

from cl2cm.errors import ConfigError, UserError


def test_a_config_error_names_fields_and_renders_them_with_the_callers_names() -> None:
    err = ConfigError("{ot_eps} {eps} / {ot_iters} {iters}: need eps > 0", eps=0.0, iters=3)
    assert isinstance(err, UserError) and err.exit_code == 2
    assert err.fields == ("ot_eps", "ot_iters")
    assert str(err) == "ot_eps 0.0 / ot_iters 3: need eps > 0"
    assert err.render(lambda f: "--" + f.replace("_", "-")) == "--ot-eps 0.0 / --ot-iters 3: need eps > 0"


def test_a_field_named_twice_and_the_file_prefix() -> None:
    err = ConfigError("{lr} {value!r} differs; fix {lr}", path="ck.safetensors", value=0.5)
    assert err.fields == ("lr",)
    assert str(err) == "ck.safetensors: lr 0.5 differs; fix lr"
    assert err.render(str.upper) == "ck.safetensors: LR 0.5 differs; fix LR"


@pytest.mark.parametrize("hostile", ["{pooling}", "{0}", "{", "}{value!r}", "%s"])
def test_a_value_is_never_read_as_a_template(hostile: str) -> None:
    """User text goes in through `values`: braces in it are printed, not substituted or parsed."""
    err = ConfigError("{encoder} {value!r}: cannot load", value=hostile)
    assert err.fields == ("encoder",)
    assert str(err) == f"encoder {hostile!r}: cannot load"
    assert err.render(lambda f: "--x") == f"--x {hostile!r}: cannot load"


def test_raising_and_catching_as_a_user_error() -> None:
    with pytest.raises(UserError, match="^dim 0: must be positive$"):
        raise ConfigError("{dim} {value}: must be positive", value=0)


@pytest.mark.parametrize(("rank", "lines"), [("0", 1), ("3", 0)])
def test_under_torchrun_only_rank_0_prints_a_user_error(rank: str, lines: int, tmp_path, cli, monkeypatch) -> None:
    """Every rank fails alike on a user mistake: one line (rank 0's), exit 2 from every rank."""
    monkeypatch.setenv("RANK", rank)
    code, _, err = cli(["eval", "--query-emb", str(tmp_path / "nope"), "--gallery-emb", str(tmp_path / "nope")])
    assert code == 2 and len(err.splitlines()) == lines, err
