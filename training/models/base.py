"""The interface every model family implements, and saving/loading by family."""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from training.normalize import NormalizerConfig, normalize_many

MODEL_META_FILE = "kemala_model.json"
_FAMILIES = {
    "linear": "training.models.linear:LinearClassifier",
    "encoder": "training.models.encoder:EncoderClassifier",
    "finetune": "training.models.finetune:FinetunedClassifier",
}

EpochCallback = Callable[[int, dict[str, float]], None]


class TextClassifier(ABC):
    """A single-label text classifier that owns its labels and its normalisation.

    ``predict_proba`` takes raw tweets: normalisation happens inside, with the
    settings saved beside the model, so training and serving cannot drift apart.
    """

    family: ClassVar[str]

    def __init__(self, labels: Sequence[str], normalizer: NormalizerConfig, settings: dict[str, Any]):
        if len(labels) < 2:
            raise ValueError(f"need at least 2 labels, got {list(labels)}")
        self.labels = list(labels)
        self.normalizer = normalizer
        self.settings = settings
        self.task: str | None = None  # set by the trainer; saved so exports know what they predict

    # -- training -------------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        valid_texts: Sequence[str] | None = None,
        valid_labels: Sequence[str] | None = None,
        on_epoch: EpochCallback | None = None,
        seed: int = 13,
    ) -> dict[str, Any]:
        """Train on raw texts; return a small dict of training facts (epochs, ...)."""
        unknown = sorted(set(labels) - set(self.labels))
        if unknown:
            raise ValueError(f"training labels not in the label list: {unknown}")
        y = np.array([self.labels.index(label) for label in labels])
        valid = None
        if valid_texts is not None and valid_labels is not None and len(valid_texts):
            valid = (
                self.prepare(valid_texts),
                np.array([self.labels.index(v) for v in valid_labels]),
            )
        return self._fit(self.prepare(texts), y, valid, on_epoch, seed)

    @abstractmethod
    def _fit(
        self,
        texts: list[str],
        y: np.ndarray,
        valid: tuple[list[str], np.ndarray] | None,
        on_epoch: EpochCallback | None,
        seed: int,
    ) -> dict[str, Any]: ...

    # -- inference ------------------------------------------------------------
    def prepare(self, texts: Sequence[str]) -> list[str]:
        """Normalise raw texts exactly as at training time."""
        return normalize_many(list(texts), self.normalizer)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape ``(n, len(labels))``, columns in ``labels`` order."""
        if len(texts) == 0:
            return np.zeros((0, len(self.labels)))
        return self._predict_proba(self.prepare(texts))

    @abstractmethod
    def _predict_proba(self, texts: list[str]) -> np.ndarray: ...

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label per text."""
        proba = self.predict_proba(texts)
        return [self.labels[i] for i in proba.argmax(axis=1)]

    # -- persistence ----------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save weights, labels and normalisation settings to a folder."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self._save(path)
        meta = {
            "family": self.family,
            "task": self.task,
            "labels": self.labels,
            "normalizer": self.normalizer.to_dict(),
            "settings": self.settings,
        }
        (path / MODEL_META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        return path

    @abstractmethod
    def _save(self, path: Path) -> None: ...

    @classmethod
    @abstractmethod
    def _load(
        cls, path: Path, labels: list[str], normalizer: NormalizerConfig, settings: dict[str, Any]
    ) -> TextClassifier: ...


def _family_class(family: str) -> type[TextClassifier]:
    if family not in _FAMILIES:
        raise ValueError(f"unknown model family {family!r}; expected one of {sorted(_FAMILIES)}")
    module, name = _FAMILIES[family].split(":")
    return getattr(importlib.import_module(module), name)


def build_classifier(
    family: str, labels: Sequence[str], normalizer: NormalizerConfig, settings: dict[str, Any]
) -> TextClassifier:
    """A fresh, untrained classifier of a family."""
    return _family_class(family)(labels, normalizer, settings)


def read_model_meta(path: str | Path) -> dict[str, Any]:
    """The ``kemala_model.json`` of a saved model folder (family, labels, settings)."""
    meta_file = Path(path) / MODEL_META_FILE
    if not meta_file.exists():
        raise FileNotFoundError(f"{path}: not a Kemala model folder (no {MODEL_META_FILE})")
    return json.loads(meta_file.read_text(encoding="utf-8"))


def load_classifier(path: str | Path) -> TextClassifier:
    """Load any saved classifier folder, whatever its family."""
    meta = read_model_meta(path)
    cls = _family_class(meta["family"])
    model = cls._load(Path(path), meta["labels"], NormalizerConfig(**meta["normalizer"]), meta["settings"])
    model.task = meta.get("task")
    return model
