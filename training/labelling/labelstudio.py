"""Label Studio bridge: export the queue as tasks with pre-annotations, import finished annotations.

Export writes two files:

* a tasks JSON list, each ``{"data": {"text", "tweet_id", "region", "source", "created_at"},
  "predictions": [{"model_version", "result": [...], "score"}]}``, where ``result`` holds one
  ``choices`` region per field (``topic``, ``urgency``, ``lang``) from the queue's suggestions
  (model predictions; else the keyword rules for topic and the pool's guess for lang);
* the labelling config XML: the tweet and its region, and three single-choice ``<Choices>``
  built from the taxonomy (hints are the taxonomy descriptions), each required.

Import reads Label Studio's JSON export (a list of tasks with ``annotations``) into the
annotation store, one row per (tweet, annotator), the annotator being ``completed_by``'s email
(or its id). Cancelled (skipped) annotations are ignored.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.labelling.annotations import (
    LABEL_FIELDS,
    Annotation,
    AnnotationError,
    save_annotations,
    validate_annotation,
)
from training.labelling.queue import QueueItem
from training.labels import atomic_writer
from training.taxonomy import REPO_ROOT, Taxonomy, default_taxonomy

logger = logging.getLogger(__name__)

DEFAULT_EXPORT_DIR = REPO_ROOT / "data" / "labels" / "labelstudio"
TEXT_TAG = "text"
RULES_VERSION = "keyword-rules"
POOL_LANG_VERSION = "pool-langid"
DEFAULT_SOURCE = "labelstudio"
_TITLES = {"topic": "Topic (which agency)", "urgency": "Urgency", "lang": "Language"}


def labelling_config(taxonomy: Taxonomy | None = None) -> str:
    """The Label Studio labelling config: the tweet, its region, and one ``<Choices>`` per field."""
    taxonomy = taxonomy or default_taxonomy()
    view = ET.Element("View")
    ET.SubElement(view, "Text", name=TEXT_TAG, value="$text")
    ET.SubElement(view, "Header", value="Region: $region", size="6")
    described = {
        "topic": {t.id: t.description for t in taxonomy.topics},
        "urgency": {u.id: f"{u.description} ({u.expected_response})" for u in taxonomy.urgency},
        "lang": {lang.id: lang.description for lang in taxonomy.languages},
    }
    for name in LABEL_FIELDS:
        ET.SubElement(view, "Header", value=_TITLES[name])
        choices = ET.SubElement(
            view, "Choices", name=name, toName=TEXT_TAG, choice="single-radio", required="true", showInline="true"
        )
        for label in taxonomy.labels_for(name):
            ET.SubElement(choices, "Choice", value=label, hint=described[name][label])
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def _choice(name: str, label: str, score: float | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": name,
        "from_name": name,
        "to_name": TEXT_TAG,
        "type": "choices",
        "value": {"choices": [label]},
    }
    if score is not None:
        result["score"] = score
    return result


def task_for(item: QueueItem, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """One Label Studio task for a queued tweet, with the suggestions as a prediction."""
    taxonomy = taxonomy or default_taxonomy()
    suggestions = item.suggestions or {}
    predictions = suggestions.get("predictions") or {}
    versions = suggestions.get("model_version") or {}
    picked: dict[str, tuple[str, float | None, str]] = {}  # field -> (label, confidence, where from)
    for name in LABEL_FIELDS:
        top = (predictions.get(name) or [None])[0]
        if top and top.get("label") in taxonomy.labels_for(name):
            picked[name] = (top["label"], top.get("confidence"), str(versions.get(name, "model")))
    hits = suggestions.get("rule_hits") or {}
    if "topic" not in picked and hits:
        best = max(hits, key=lambda t: (len(hits[t]), -taxonomy.topic_ids.index(t)))
        picked["topic"] = (best, None, RULES_VERSION)
    if "lang" not in picked and suggestions.get("lang") in taxonomy.lang_ids:
        picked["lang"] = (suggestions["lang"], None, POOL_LANG_VERSION)
    task: dict[str, Any] = {
        "data": {
            "text": item.text,
            "tweet_id": item.tweet_id,
            "region": item.region or "",
            "source": item.source,
            "created_at": item.created_at,
        },
        "predictions": [],
    }
    if picked:
        scores = [conf for _, conf, _ in picked.values() if conf is not None]
        prediction: dict[str, Any] = {
            "model_version": ";".join(f"{name}={where}" for name, (_, _, where) in picked.items()),
            "result": [_choice(name, label, conf) for name, (label, conf, _) in picked.items()],
        }
        if scores:
            prediction["score"] = round(sum(scores) / len(scores), 4)
        task["predictions"].append(prediction)
    return task


def export_tasks(
    items: Sequence[QueueItem],
    tasks_path: str | Path = DEFAULT_EXPORT_DIR / "tasks.json",
    config_path: str | Path | None = DEFAULT_EXPORT_DIR / "config.xml",
    taxonomy: Taxonomy | None = None,
) -> Path:
    """Write the queue as a Label Studio tasks file (and the labelling config) atomically."""
    taxonomy = taxonomy or default_taxonomy()
    tasks = [task_for(item, taxonomy) for item in items]
    with atomic_writer(tasks_path) as fh:
        json.dump(tasks, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    if config_path is not None:
        with atomic_writer(config_path) as fh:
            fh.write(labelling_config(taxonomy))
    logger.info("wrote %d Label Studio task(s) to %s", len(tasks), tasks_path)
    return Path(tasks_path)


@dataclass
class LabelStudioImport:
    """What an import did: annotations saved, cancelled ones skipped, and every problem found."""

    imported: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)


def _annotator(completed_by: Any) -> str | None:
    # Label Studio writes a user id; some exports expand it to {"id", "email", ...}.
    if isinstance(completed_by, dict):
        value = completed_by.get("email") or completed_by.get("id")
        return None if value in (None, "") else str(value)
    return None if completed_by in (None, "") else str(completed_by)


def _choices(result: list[dict[str, Any]]) -> dict[str, str]:
    found = {}
    for region in result or []:
        if region.get("type") == "choices" and region.get("from_name") in LABEL_FIELDS:
            chosen = (region.get("value") or {}).get("choices") or []
            if chosen:
                found[region["from_name"]] = chosen[0]
    return found


def import_annotations(
    conn: sqlite3.Connection, export_path: str | Path, taxonomy: Taxonomy | None = None
) -> LabelStudioImport:
    """Read a Label Studio JSON export into the annotation store (valid annotations, one transaction)."""
    taxonomy = taxonomy or default_taxonomy()
    export_path = Path(export_path)
    tasks = json.loads(export_path.read_text(encoding="utf-8"))
    if not isinstance(tasks, list):
        raise ValueError(f"{export_path}: expected Label Studio's JSON export (a list of tasks)")
    result = LabelStudioImport()
    rows: dict[tuple[str, str], Annotation] = {}
    for n, task in enumerate(tasks, start=1):
        data = task.get("data") or {}
        where = f"{export_path}: task {task.get('id', f'#{n}')}"
        tweet_id = data.get("tweet_id")
        if not tweet_id:
            result.errors.append(f"{where}: data.tweet_id: missing")
            continue
        # Oldest first, so an annotator's latest answer on a task wins.
        for ann in sorted(task.get("annotations") or [], key=lambda a: str(a.get("updated_at") or "")):
            here = f"{where} annotation {ann.get('id', '?')}"
            if ann.get("was_cancelled"):
                result.cancelled += 1
                continue
            annotator = _annotator(ann.get("completed_by"))
            if annotator is None:
                result.errors.append(f"{here}: completed_by: missing")
                continue
            labels = _choices(ann.get("result"))
            missing = [f for f in ("topic", "urgency") if f not in labels]
            if missing:
                result.errors.append(f"{here}: {', '.join(missing)}: not chosen")
                continue
            try:
                rows[(str(tweet_id), annotator)] = validate_annotation(
                    Annotation(
                        tweet_id=str(tweet_id),
                        annotator=annotator,
                        topic=labels["topic"],
                        urgency=labels["urgency"],
                        lang=labels.get("lang"),
                        text=data.get("text") or "",
                        labelled_at=ann.get("updated_at") or ann.get("created_at") or None,
                        source=data.get("source") or DEFAULT_SOURCE,
                        region=data.get("region") or None,
                        created_at=data.get("created_at") or None,
                    ),
                    taxonomy,
                )
            except AnnotationError as exc:
                result.errors.append(f"{here}: {exc}")
    result.imported = save_annotations(conn, rows.values(), taxonomy)
    for error in result.errors:
        logger.warning("skipped %s", error)
    logger.info(
        "imported %d annotation(s) from %s (%d cancelled skipped)", result.imported, export_path, result.cancelled
    )
    return result
