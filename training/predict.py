"""Batch routing predictions for files: the stable interface other tools script against.

Input: JSONL or CSV with ``id`` and a text column (other columns are kept). Output
JSONL adds ``topic``, ``topic_confidence``, ``urgency``, ``urgency_confidence``,
``needs_review`` and ``model_version``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from training.export import ROUTING_TASKS, read_export_meta
from training.labels import atomic_writer
from training.models import TextClassifier, load_classifier
from training.models.base import MODEL_META_FILE, read_model_meta
from training.routing import ReviewThresholds, review_reasons
from training.tracking import CHAMPION, classifier_dir, configure

logger = logging.getLogger(__name__)
DEFAULT_THRESHOLDS = ReviewThresholds()


@dataclass
class LoadedModel:
    """A classifier and where it came from."""

    task: str
    classifier: TextClassifier
    version: str


def _task_of(folder: Path, default: str) -> str:
    return read_model_meta(folder).get("task") or read_export_meta(folder).get("task") or default


def load_model(uri: str, default_task: str = "topic") -> LoadedModel:
    """Load ``models:/name@alias``, ``models:/name/N``, ``runs:/id/model`` or a local folder."""
    path = Path(uri)
    if path.is_dir():
        meta = read_export_meta(path)
        version = f"{meta['registered_model']}/{meta['version']}" if meta else str(path)
        return LoadedModel(_task_of(path, default_task), load_classifier(path), version)
    folder = classifier_dir(uri)
    return LoadedModel(_task_of(folder, default_task), load_classifier(folder), uri.removeprefix("models:/"))


def load_routing_models(model_uri: str | None = None, tracking_uri: str | None = None) -> dict[str, LoadedModel]:
    """Topic and urgency models: champions by default, or from an export folder / single URI."""
    configure(tracking_uri)
    uris = {task: f"models:/kemala-{task}@{CHAMPION}" for task in ROUTING_TASKS}
    if model_uri is not None:
        root = Path(model_uri)
        if root.is_dir() and not (root / MODEL_META_FILE).exists():
            uris = {task: str(root / task) for task in ROUTING_TASKS if (root / task).is_dir()}
        else:
            single = load_model(model_uri)
            uris.pop(single.task, None)
            return {single.task: single} | {t: load_model(u, t) for t, u in uris.items()}
    return {task: load_model(uri, task) for task, uri in uris.items()}


def read_input(path: Path, text_col: str) -> pd.DataFrame:
    """Read JSONL or CSV input; fail naming the file and the missing column."""
    frame = pd.read_json(path, lines=True, dtype=False) if path.suffix == ".jsonl" else pd.read_csv(path, dtype=str)
    if text_col not in frame.columns:
        raise ValueError(f"{path}: no {text_col!r} column (columns: {list(frame.columns)}); use --text-col")
    if "id" not in frame.columns:
        raise ValueError(f"{path}: no 'id' column")
    return frame


def predict_frame(
    frame: pd.DataFrame,
    models: dict[str, LoadedModel],
    text_col: str = "text",
    thresholds: ReviewThresholds = DEFAULT_THRESHOLDS,
) -> pd.DataFrame:
    """Add the routing columns to a frame (one vectorised call per model)."""
    texts = frame[text_col].fillna("").astype(str).tolist()
    out = frame.copy()
    for task, model in models.items():
        proba = model.classifier.predict_proba(texts)
        out[task] = [model.classifier.labels[i] for i in proba.argmax(axis=1)]
        out[f"{task}_confidence"] = proba.max(axis=1).round(4)
    out["needs_review"] = [
        bool(
            review_reasons(
                row.get("topic_confidence"),
                row.get("urgency"),
                row.get("urgency_confidence"),
                thresholds,
            )
        )
        for row in out.to_dict("records")
    ]
    out["model_version"] = ";".join(f"{t}={m.version}" for t, m in models.items())
    return out


def predict_file(
    input_path: Path,
    output_path: Path,
    model_uri: str | None = None,
    text_col: str = "text",
    tracking_uri: str | None = None,
    thresholds: ReviewThresholds = DEFAULT_THRESHOLDS,
) -> int:
    """Predict a whole file and write JSONL atomically; return the number of rows."""
    frame = read_input(input_path, text_col)
    result = predict_frame(frame, load_routing_models(model_uri, tracking_uri), text_col, thresholds)
    with atomic_writer(output_path) as fh:
        for record in result.to_dict("records"):
            fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    logger.info("wrote %d predictions to %s", len(result), output_path)
    return len(result)
