"""Turn a config into train/valid/test texts and labels for one task.

Corpus tasks (``topic``, ``urgency``, ``lang``) read the validated label store and
its fixed ``splits.csv``. Any other task reads a labelled CSV or JSONL file with
named text and label columns (the public benchmarks, a held-back test file).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from training.config import TrainConfig
from training.labels import LabelRow, load_labels
from training.splits import SPLITS_FILENAME, read_splits
from training.taxonomy import default_taxonomy


@dataclass
class Split:
    """Texts, gold labels and per-row metadata of one split."""

    texts: list[str]
    labels: list[str]
    ids: list[str] = field(default_factory=list)
    langs: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"id": self.ids or None, "text": self.texts, "label": self.labels, "lang": self.langs or None}
        )


@dataclass
class TaskData:
    """One task's label list and splits, with a content digest for tracking."""

    name: str
    source: str
    labels: list[str]
    train: Split
    valid: Split
    test: Split | None
    digest: str

    def counts(self) -> dict[str, int]:
        out = {"train": len(self.train), "valid": len(self.valid)}
        if self.test is not None:
            out["test"] = len(self.test)
        return out


def _digest(parts: list[tuple[str, ...]]) -> str:
    h = hashlib.sha256()
    for part in sorted(parts):
        h.update(json.dumps(part, ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def rows_to_split(rows: list[LabelRow], task: str) -> Split:
    """A split from label-store rows, labelled by ``task``."""
    return Split(
        texts=[r.text for r in rows],
        labels=[getattr(r, task) for r in rows],
        ids=[r.id for r in rows],
        langs=[r.lang for r in rows],
    )


def load_corpus_splits(store: Path) -> tuple[list[LabelRow], dict[str, str]]:
    """Validated rows and their split assignment; every row must have a split."""
    rows = load_labels(store)
    splits = read_splits(store / SPLITS_FILENAME)
    missing = [r.id for r in rows if r.id not in splits]
    if missing:
        raise ValueError(
            f"{store / SPLITS_FILENAME}: {len(missing)} row(s) have no split (e.g. {missing[:3]}); "
            "run `kemala labels split` to assign them"
        )
    return rows, splits


def load_corpus_task(store: Path, task: str) -> TaskData:
    """The label store as a train/valid/test task."""
    rows, splits = load_corpus_splits(store)
    parts = {s: rows_to_split([r for r in rows if splits[r.id] == s], task) for s in ("train", "valid", "test")}
    digest = _digest([(r.id, r.text, getattr(r, task), splits[r.id]) for r in rows])
    return TaskData(
        f"kemala-corpus/{task}",
        str(store),
        default_taxonomy().labels_for(task),
        parts["train"],
        parts["valid"],
        parts["test"],
        digest,
    )


def read_table(path: Path, text_col: str, label_col: str | None) -> pd.DataFrame:
    """Read a CSV or JSONL file; fail naming the file and the missing column."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() in {".jsonl", ".json"}:
        frame = pd.read_json(path, lines=True, dtype=False)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    needed = [c for c in (text_col, label_col) if c]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; columns are {list(frame.columns)}")
    frame = frame[frame[text_col].astype(str).str.strip() != ""]
    return frame.reset_index(drop=True)


def frame_split(frame: pd.DataFrame, text_col: str, label_col: str) -> Split:
    """A split from a table's text and label columns (``id`` and ``lang`` kept when present)."""
    ids = frame["id"].astype(str).tolist() if "id" in frame.columns else [str(i) for i in range(len(frame))]
    langs = frame["lang"].tolist() if "lang" in frame.columns else []
    return Split(frame[text_col].astype(str).tolist(), frame[label_col].astype(str).tolist(), ids, langs)


def load_file_task(cfg: TrainConfig) -> TaskData:
    """A task from labelled files: train (+ valid, or 10% of train) (+ optional test)."""
    label_col = cfg.label_col or cfg.task
    train = read_table(cfg.data, cfg.text_col, label_col)
    if cfg.valid_data is not None:
        valid = read_table(cfg.valid_data, cfg.text_col, label_col)
    else:
        train, valid = train_test_split(train, test_size=0.1, random_state=cfg.seed, stratify=train[label_col])
    test = read_table(cfg.test_data, cfg.text_col, label_col) if cfg.test_data else None
    labels = sorted(set(train[label_col].astype(str)))
    parts = [train, valid] + ([test] if test is not None else [])
    digest = _digest([(str(t), str(lab)) for p in parts for t, lab in zip(p[cfg.text_col], p[label_col], strict=True)])
    return TaskData(
        cfg.task,
        str(cfg.data),
        labels,
        frame_split(train, cfg.text_col, label_col),
        frame_split(valid, cfg.text_col, label_col),
        frame_split(test, cfg.text_col, label_col) if test is not None else None,
        digest,
    )


def load_task(cfg: TrainConfig) -> TaskData:
    """The data a config asks for."""
    return load_corpus_task(cfg.data, cfg.task) if cfg.is_corpus_task else load_file_task(cfg)
