"""Language id for the pool: Indonesian (``id``), Javanese (``jv``) or clearly mixed (``campur``).

Off-the-shelf detectors fail here: lingua (the best general one for short text) has no
Javanese model at all, and short Javanese tweets share most of their characters with
Indonesian. So the identifier the ingest uses is the project's own linear family
(TF-IDF word + character n-grams, calibrated linear SVM) trained on the label store's
``lang`` labels. It is cached by the store's content digest, so it retrains only when
the labels change.

:class:`LinguaLangId` is the baseline it is measured against: lingua over all its
languages, with the Indonesian+Malay confidence cut at two thresholds (tuned on the
train split) into ``jv`` < ``campur`` < ``id``, because lingua cannot say "Javanese".
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from training.config import DEFAULT_LABEL_STORE, LinearSettings, NormalizerSettings
from training.data import Split, TaskData, load_corpus_task
from training.models import TextClassifier, build_classifier, load_classifier

logger = logging.getLogger(__name__)

TASK = "lang"
CACHE_SUBDIR = "langid"
META_FILE = "langid.json"
SEED = 13


class LanguageIdentifier(Protocol):
    """Anything that labels texts ``id``/``jv``/``campur`` (the ingest accepts any of these)."""

    def predict(self, texts: Sequence[str]) -> list[str]: ...


class LangIdentifier:
    """The trained language classifier, with the digest of the labels it learned from."""

    def __init__(self, model: TextClassifier, digest: str, meta: dict[str, Any] | None = None):
        self.model = model
        self.digest = digest
        self.meta = meta or {}

    @property
    def labels(self) -> list[str]:
        return self.model.labels

    @classmethod
    def train(cls, store: str | Path = DEFAULT_LABEL_STORE, data: TaskData | None = None) -> LangIdentifier:
        """Train on the ``lang`` labels of the store's train split."""
        data = data or load_corpus_task(Path(store), TASK)
        model = build_classifier("linear", data.labels, NormalizerSettings().build(), LinearSettings().model_dump())
        model.task = TASK
        facts = model.fit(data.train.texts, data.train.labels, seed=SEED)
        meta = {
            "store": str(store),
            "digest": data.digest,
            "train_rows": len(data.train),
            "trained_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "fit": facts,
        }
        logger.info("trained the language identifier on %d rows (digest %s)", len(data.train), data.digest)
        return cls(model, data.digest, meta)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """``id``, ``jv`` or ``campur`` per text."""
        return self.model.predict(list(texts))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, columns in :attr:`labels` order."""
        return self.model.predict_proba(list(texts))

    def save(self, path: str | Path) -> Path:
        """Save to a folder: the classifier (``kemala_model.json`` + weights) and ``langid.json``."""
        path = Path(path)
        self.model.save(path)
        (path / META_FILE).write_text(json.dumps(self.meta, indent=2, default=str), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> LangIdentifier:
        """Load a folder written by :meth:`save`."""
        path = Path(path)
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        return cls(load_classifier(path), meta["digest"], meta)


def default_cache_root() -> Path:
    """``<kemala cache>/langid`` (``KEMALA_CACHE`` moves the cache)."""
    # Imported here: the embedder module pulls in torch, which ingest otherwise never needs.
    from training.models.embedder import cache_dir

    return cache_dir() / CACHE_SUBDIR


def load_or_train(store: str | Path = DEFAULT_LABEL_STORE, cache_root: Path | None = None) -> LangIdentifier:
    """The identifier for the store's current labels: from the cache, else trained once and cached.

    The cache key is the digest of the store's ``lang`` task (ids, texts, labels and splits), so
    any label change trains a fresh model and an old one is never used by mistake.
    """
    data = load_corpus_task(Path(store), TASK)
    root = cache_root or default_cache_root()
    target = root / data.digest
    if (target / META_FILE).exists():
        logger.info("language identifier from cache %s", target)
        return LangIdentifier.load(target)
    identifier = LangIdentifier.train(store, data)
    root.mkdir(parents=True, exist_ok=True)
    # Save into a temp folder and rename, so an interrupted save never looks like a cached model.
    tmp = Path(tempfile.mkdtemp(prefix=f".{data.digest}.", dir=root))
    try:
        identifier.save(tmp)
        tmp.rename(target)
    except OSError:
        if not (target / META_FILE).exists():
            raise
        logger.info("another process cached the language identifier first; using %s", target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return identifier


class LinguaLangId:
    """Baseline: lingua's Indonesian (+Malay) confidence cut into ``jv`` / ``campur`` / ``id``.

    Lingua supports Indonesian and Malay but not Javanese, so Javanese text can only show up
    as *low* Indonesian confidence (its mass goes to Malay, Tagalog, Swahili, Sotho, ...).
    ``fit`` picks the two cut points that maximise macro-F1 on labelled texts.
    """

    def __init__(self, low: float = 0.5, high: float = 0.9):
        self.low, self.high = low, high
        self._detector: Any = None

    @property
    def detector(self) -> Any:
        if self._detector is None:
            from lingua import LanguageDetectorBuilder

            self._detector = LanguageDetectorBuilder.from_all_languages().build()
        return self._detector

    def indonesian_confidence(self, texts: Sequence[str]) -> np.ndarray:
        """Lingua's confidence that each text is Indonesian or Malay (0..1)."""
        from lingua import Language

        wanted = {Language.INDONESIAN, Language.MALAY}
        values = self.detector.compute_language_confidence_values_in_parallel(list(texts))
        return np.array([sum(c.value for c in conf if c.language in wanted) for conf in values])

    def _cut(self, conf: np.ndarray) -> list[str]:
        return ["jv" if c < self.low else "campur" if c < self.high else "id" for c in conf]

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> LinguaLangId:
        """Choose ``low <= high`` on a grid to maximise macro-F1 on these labelled texts."""
        conf = self.indonesian_confidence(texts)
        gold = np.array(labels)
        grid = np.unique(np.concatenate([np.linspace(0, 1, 21), np.quantile(conf, np.linspace(0, 1, 101))]))
        best = (-1.0, self.low, self.high)
        for low in grid:
            for high in grid[grid >= low]:
                pred = np.where(conf < low, "jv", np.where(conf < high, "campur", "id"))
                f1 = _macro_f1(gold, pred, ("id", "jv", "campur"))
                if f1 > best[0]:
                    best = (f1, float(low), float(high))
        _, self.low, self.high = best
        logger.info("lingua cut points: jv < %.3f <= campur < %.3f <= id", self.low, self.high)
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        """``id``, ``jv`` or ``campur`` per text."""
        return self._cut(self.indonesian_confidence(texts)) if len(texts) else []


def _macro_f1(gold: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> float:
    # numpy rather than sklearn: the cut-point search scores thousands of candidates.
    f1s = []
    for lang in labels:
        tp = float(np.sum((pred == lang) & (gold == lang)))
        denom = float(np.sum(pred == lang) + np.sum(gold == lang))
        f1s.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(f1s))


def score(split: Split, predicted: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-language accuracy (recall; ``None`` without gold rows), support and
    the confusion counts ``{gold: {predicted: n}}`` of predictions on a split."""
    gold = np.array(split.labels)
    pred = np.array(predicted)
    per_language = {
        lang: round(float((pred[gold == lang] == lang).mean()), 4) if (gold == lang).any() else None for lang in labels
    }
    return {
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "macro_f1": round(float(f1_score(gold, pred, labels=list(labels), average="macro", zero_division=0)), 4),
        "per_language_accuracy": per_language,
        "support": {lang: int((gold == lang).sum()) for lang in labels},
        "confusion": {g: {q: int(((gold == g) & (pred == q)).sum()) for q in labels} for g in labels},
    }


def evaluate_langid(
    store: str | Path = DEFAULT_LABEL_STORE, cache_root: Path | None = None, lingua: bool = True
) -> dict[str, Any]:
    """Score the trained classifier and the lingua baseline on the store's TEST split.

    Both learn only from the train split (the classifier its weights, lingua its two cut points).
    Returns ``{"test_rows", "digest", "methods": {name: {accuracy, macro_f1, per_language_accuracy,
    support, confusion}}, "notes"}``.
    """
    data = load_corpus_task(Path(store), TASK)
    if data.test is None or not len(data.test):
        raise ValueError(f"{store}: the test split is empty")
    identifier = load_or_train(store, cache_root)
    methods = {"classifier": score(data.test, identifier.predict(data.test.texts), data.labels)}
    notes = {"classifier": "linear family (TF-IDF word+char n-grams, calibrated LinearSVC) on the train split"}
    if lingua:
        baseline = LinguaLangId().fit(data.train.texts, data.train.labels)
        methods["lingua"] = score(data.test, baseline.predict(data.test.texts), data.labels)
        notes["lingua"] = (
            "lingua has no Javanese model: Indonesian+Malay confidence over all 75 languages, cut at "
            f"{baseline.low:.3f} (jv below) and {baseline.high:.3f} (id at or above; campur between), "
            "cut points tuned for macro-F1 on the train split"
        )
    return {"test_rows": len(data.test), "digest": data.digest, "methods": methods, "notes": notes}
