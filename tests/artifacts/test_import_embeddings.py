"""`cl2cm import-embeddings`: another tool's embeddings evaluated by cl2cm's engine; bad inputs are one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file

from cl2cm.retrieval.metrics import compute_ranks, retrieval_metrics, rounded

Cli = Callable[[list[str]], tuple[int, str, str]]


def _foreign(tmp_path: Path, n_img: int = 12, per: int = 3, dim: int = 8) -> dict[str, object]:
    """What another tool hands over: query and gallery matrices plus plain id lists."""
    g = torch.Generator().manual_seed(0)
    gallery = torch.nn.functional.normalize(torch.randn(n_img, dim, generator=g), dim=-1)
    idx = torch.arange(n_img).repeat_interleave(per)
    query = torch.nn.functional.normalize(gallery[idx] + 0.9 * torch.randn(len(idx), dim, generator=g), dim=-1)
    names = [f"img{i:02d}.jpg" for i in range(n_img)]
    np.save(tmp_path / "q.npy", query.numpy())
    save_file({"embeddings": gallery}, str(tmp_path / "g.safetensors"))
    (tmp_path / "q_ids.txt").write_text("".join(f"{names[i]}#{k % per}\n" for k, i in enumerate(idx.tolist())))
    (tmp_path / "q_images.txt").write_text("".join(f"{names[i]}\n" for i in idx.tolist()))
    (tmp_path / "g_ids.txt").write_text("".join(f"{n}\n" for n in names))
    return {"query": query, "gallery": gallery, "idx": idx}


def _import_both(tmp_path: Path, cli: Cli) -> tuple[Path, Path]:
    q, g = tmp_path / "emb" / "q", tmp_path / "emb" / "g"
    code, out, err = cli(["import-embeddings", str(tmp_path / "q.npy"), "--ids", str(tmp_path / "q_ids.txt"),
                          "--images", str(tmp_path / "q_images.txt"), "--out", str(q)])
    assert code == 0 and "36 rows × 8 (queries" in " ".join(out.split()), err
    code, out, err = cli(["import-embeddings", str(tmp_path / "g.safetensors"), "--ids",
                          str(tmp_path / "g_ids.txt"), "--out", str(g)])
    assert code == 0 and "12 rows × 8 (gallery)" in " ".join(out.split()), err
    return q, g


def test_imported_embeddings_evaluate_exactly_like_the_engine(tmp_path: Path, cli: Cli) -> None:
    data = _foreign(tmp_path)
    q, g = _import_both(tmp_path, cli)
    m = tmp_path / "m.json"
    code, _, err = cli(["eval", "--query-emb", str(q), "--gallery-emb", str(g), "--out", str(m), "-q"])
    assert code == 0, err
    assert json.loads(m.read_text()) == rounded(retrieval_metrics(compute_ranks(data["query"], data["gallery"], data["idx"])))
    manifest = json.loads((q / "manifest.json").read_text())
    assert manifest["kind"] == "embeddings" and manifest["rows"] == 36 and manifest["extra"]["normalized"] is False
    assert (q / "images.txt").exists() and not (g / "images.txt").exists()


def test_rerun_is_already_complete_and_other_inputs_need_overwrite(tmp_path: Path, cli: Cli) -> None:
    _foreign(tmp_path)
    _, g = _import_both(tmp_path, cli)
    before = (g / "features.safetensors").read_bytes()
    (g / ".features.safetensors.abcd1234.tmp").write_bytes(b"left by a killed run")
    argv = ["import-embeddings", str(tmp_path / "g.safetensors"), "--ids", str(tmp_path / "g_ids.txt"),
            "--out", str(g)]
    code, out, _ = cli(argv)
    assert code == 0 and "already complete" in " ".join(out.split())
    assert (g / "features.safetensors").read_bytes() == before and not list(g.glob("*.tmp"))
    code, _, err = cli([*argv, "--normalize"])
    assert code == 2 and "already holds another artifact; pass --overwrite" in err
    code, _, err = cli([*argv, "--normalize", "--overwrite"])
    assert code == 0, err
    store = json.loads((g / "manifest.json").read_text())
    assert store["extra"]["normalized"] is True


def test_a_store_written_by_hand_as_docs_formats_describes(tmp_path: Path, cli: Cli) -> None:
    """The minimal manifest of docs/formats.md ("Embeddings from another tool") is enough for eval."""
    data = _foreign(tmp_path)
    for name, rows, ids, images in (("q", data["query"], "q_ids.txt", "q_images.txt"),
                                    ("g", data["gallery"], "g_ids.txt", None)):
        d = tmp_path / "hand" / name
        d.mkdir(parents=True)
        save_numpy({"features": rows.numpy()}, str(d / "features.safetensors"))
        (d / "ids.txt").write_text((tmp_path / ids).read_text())
        if images:
            (d / "images.txt").write_text((tmp_path / images).read_text())
        (d / "manifest.json").write_text(json.dumps({"kind": "embeddings", "rows": len(rows), "schema_version": 1}))
    m = tmp_path / "m.json"
    code, _, err = cli(["eval", "--query-emb", str(tmp_path / "hand" / "q"), "--gallery-emb",
                        str(tmp_path / "hand" / "g"), "--out", str(m), "-q"])
    assert code == 0, err
    assert json.loads(m.read_text()) == rounded(retrieval_metrics(compute_ranks(data["query"], data["gallery"], data["idx"])))


def _bad(tmp_path: Path, case: str) -> tuple[list[str], str]:
    """One hostile input per case: the argv tail and the text the one stderr line must hold."""
    t = tmp_path
    ids = ["--ids", str(t / "g_ids.txt")]
    if case == "pickled object array":
        np.save(t / "o.npy", np.array([{"x": 1}] * 12, dtype=object), allow_pickle=True)
        return [str(t / "o.npy"), *ids], "o.npy: not a numeric .npy array"
    if case == "text file":
        (t / "x.txt").write_text("1 2 3\n")
        return [str(t / "x.txt"), *ids], "x.txt: expected a .npy or .safetensors file"
    if case == "missing file":
        return [str(t / "nope.npy"), *ids], "nope.npy: file not found"
    if case == "truncated npy":
        (t / "cut.npy").write_bytes((t / "q.npy").read_bytes()[:100])
        return [str(t / "cut.npy"), *ids], "cut.npy: not a numeric .npy array"
    if case == "1-d array":
        np.save(t / "v.npy", np.zeros(12, dtype=np.float32))
        return [str(t / "v.npy"), *ids], "expected a [rows, dim] matrix, got shape (12,)"
    if case == "integer matrix":
        np.save(t / "i.npy", np.zeros((12, 4), dtype=np.int64))
        return [str(t / "i.npy"), *ids], "expected floating-point embeddings, got int64"
    if case == "nan row":
        bad = np.ones((12, 4), dtype=np.float32)
        bad[5, 2] = np.nan
        np.save(t / "n.npy", bad)
        return [str(t / "n.npy"), *ids], "n.npy: row 5 holds NaN or infinity"
    if case == "zero row":
        bad = np.ones((12, 4), dtype=np.float32)
        bad[7] = 0
        np.save(t / "z.npy", bad)
        return [str(t / "z.npy"), *ids, "--normalize"], "z.npy: row 7 is all zeros"
    if case == "two tensors":
        save_file({"a": torch.zeros(12, 4), "b": torch.zeros(12, 4)}, str(t / "two.safetensors"))
        return [str(t / "two.safetensors"), *ids], "holds 2 tensors (a, b); pick one with --tensor"
    if case == "unknown tensor":
        return [str(t / "g.safetensors"), *ids, "--tensor", "feats"], "--tensor 'feats': not in the file"
    if case == "short id list":
        (t / "short.txt").write_text("a\nb\n")
        return [str(t / "g.safetensors"), "--ids", str(t / "short.txt")], "short.txt: --ids: 2 lines for 12"
    if case == "duplicate id":
        lines = (t / "g_ids.txt").read_text().splitlines()
        lines[7] = lines[2]
        (t / "dup.txt").write_text("\n".join(lines) + "\n")
        return [str(t / "g.safetensors"), "--ids", str(t / "dup.txt")], "dup.txt:8: --ids: duplicate id"
    if case == "blank image line":
        (t / "img.txt").write_text("\n".join(["x.jpg"] * 11 + [" "]) + "\n")
        return [str(t / "g.safetensors"), *ids, "--images", str(t / "img.txt")], "img.txt:12: --images: empty id"
    if case == "out under a regular file":
        (t / "afile").write_text("x")
        return [str(t / "g.safetensors"), *ids, "--out", str(t / "afile" / "store")], "afile"
    raise ValueError(case)


CASES = ["pickled object array", "text file", "missing file", "truncated npy", "1-d array", "integer matrix",
         "nan row", "zero row", "two tensors", "unknown tensor", "short id list", "duplicate id", "blank image line",
         "out under a regular file"]


@pytest.mark.parametrize("case", CASES)
def test_bad_inputs_are_one_line_exit_2_and_write_nothing(case: str, tmp_path: Path, cli: Cli) -> None:
    _foreign(tmp_path)
    argv, needle = _bad(tmp_path, case)
    out = tmp_path / "out"
    if "--out" not in argv:
        argv += ["--out", str(out)]
    code, _, err = cli(["import-embeddings", *argv])
    assert code == 2 and err.count("\n") == 1 and err.startswith("cl2cm: error:") and needle in err, err
    assert not out.exists()


def _npy_claiming(path: Path, shape: tuple[int, ...], descr: str = "<f4", body: bytes = b"\0" * 64,
                  header_pad: int = 0) -> Path:
    with path.open("wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": descr, "fortran_order": False, "shape": shape})
        fh.write(body)
    if header_pad:  # a 2.0 header of header_pad bytes (its length field is 4 bytes)
        raw = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }" + b" " * header_pad + b"\n"
        path.write_bytes(b"\x93NUMPY\x02\x00" + len(raw).to_bytes(4, "little") + raw + b"\0" * 16)
    return path


@pytest.mark.parametrize(("shape", "pad"), [((10**8, 1000), 0), ((2 * 10**6, 100), 0), ((4, 5), 0), ((2, 2), 50 << 20)])
def test_an_npy_header_is_never_believed_over_the_file(tmp_path: Path, cli: Cli, shape: tuple[int, int],
                                                       pad: int) -> None:
    """Claims of (10**8, 1000) (373 GiB) or (2e6, 100) (800 MB) over 64 bytes, a short body, a 50 MB header:
    one line, exit 2, before any allocation of the claimed size (the first took a 373 GiB MemoryError)."""
    import time

    src = _npy_claiming(tmp_path / "x.npy", shape, header_pad=pad)
    (tmp_path / "ids.txt").write_text("a\nb\nc\nd\n")
    t0 = time.monotonic()
    code, _, err = cli(["import-embeddings", str(src), "--ids", str(tmp_path / "ids.txt"), "--out",
                        str(tmp_path / "out")])
    assert time.monotonic() - t0 < 30
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert str(src) in err and ("the file holds 64 bytes of data" in err or "not a numeric .npy" in err), err
    assert not (tmp_path / "out").exists()


def test_big_endian_npy_is_converted(tmp_path: Path, cli: Cli) -> None:
    x = np.arange(12, dtype=">f4").reshape(4, 3) / 7
    np.save(tmp_path / "be.npy", x)
    (tmp_path / "ids.txt").write_text("a\nb\nc\nd\n")
    code, _, err = cli(["import-embeddings", str(tmp_path / "be.npy"), "--ids", str(tmp_path / "ids.txt"),
                        "--out", str(tmp_path / "out"), "-q"])
    assert code == 0, err
    from cl2cm.artifacts.store import load_store

    assert torch.equal(load_store(tmp_path / "out").features, torch.from_numpy(x.astype("<f4")))


def test_a_safetensors_file_without_tensors_says_so(tmp_path: Path, cli: Cli) -> None:
    save_file({}, str(tmp_path / "e.safetensors"), metadata={"pad": "x" * 1000})
    (tmp_path / "ids.txt").write_text("a\n")
    code, _, err = cli(["import-embeddings", str(tmp_path / "e.safetensors"), "--ids", str(tmp_path / "ids.txt"),
                        "--out", str(tmp_path / "out")])
    assert code == 2 and "e.safetensors: holds no tensors" in err and len(err.splitlines()) == 1, err
