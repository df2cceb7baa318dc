"""Bring the routing API's reviewer corrections into the annotation store.

The API appends one JSON object per line to ``data/labels/feedback.jsonl``::

    {"id": "...", "text": "...", "topic": "...", "urgency": "...", "lang": null,
     "reviewer": "...", "predicted": {...}, "received_at": "2026-11-27T10:00:00+00:00"}

Each becomes an annotation by ``feedback:<reviewer>`` with source ``feedback-api``, so it takes
the same path as any annotator's labels: agreement, adjudication, review. ``lang`` is optional in
the API; without it the annotation has no language and adjudication asks a reviewer for one.
Importing twice changes nothing (one row per tweet and reviewer; the latest correction wins).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from training.labelling.annotations import Annotation, AnnotationError, save_annotations, validate_annotation
from training.regions import detect_region
from training.taxonomy import REPO_ROOT, Taxonomy, default_taxonomy

logger = logging.getLogger(__name__)

DEFAULT_FEEDBACK_PATH = REPO_ROOT / "data" / "labels" / "feedback.jsonl"
FEEDBACK_SOURCE = "feedback-api"
FEEDBACK_PREFIX = "feedback:"


@dataclass
class FeedbackImport:
    """What an import did: rows saved and every line skipped, as ``file:line: problem``."""

    imported: int = 0
    errors: list[str] = field(default_factory=list)


def _annotation(record: dict, taxonomy: Taxonomy) -> Annotation:
    missing = [k for k in ("id", "text", "topic", "urgency", "reviewer") if not record.get(k)]
    if missing:
        raise AnnotationError(f"missing field(s): {', '.join(missing)}")
    text = str(record["text"])
    annotation = Annotation(
        tweet_id=str(record["id"]),
        annotator=f"{FEEDBACK_PREFIX}{record['reviewer']}",
        topic=record["topic"],
        urgency=record["urgency"],
        lang=record.get("lang") or None,
        text=text,
        labelled_at=record.get("received_at") or None,
        source=FEEDBACK_SOURCE,
        # The same rule the pool applies at ingest: the place the text names, else nothing.
        region=detect_region(text),
    )
    return validate_annotation(annotation, taxonomy)


def import_feedback(
    conn: sqlite3.Connection, path: str | Path = DEFAULT_FEEDBACK_PATH, taxonomy: Taxonomy | None = None
) -> FeedbackImport:
    """Read the feedback file into the annotation store (valid lines in one transaction)."""
    taxonomy = taxonomy or default_taxonomy()
    path = Path(path)
    result = FeedbackImport()
    if not path.exists():
        logger.info("%s: no feedback yet", path)
        return result
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    # The API appends while we read: a last line without its newline is a write in flight, not an error.
    in_flight = lines.pop() if lines and lines[-1] else b""
    rows = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
            if not isinstance(record, dict):
                raise AnnotationError(f"expected a JSON object, got {type(record).__name__}")
            rows.append(_annotation(record, taxonomy))
        except (UnicodeDecodeError, json.JSONDecodeError, AnnotationError) as exc:
            result.errors.append(f"{path}:{lineno}: {exc}")
    if in_flight:
        logger.info("%s: skipped a partly written last line (a correction being written now)", path)
    result.imported = save_annotations(conn, rows, taxonomy)
    for error in result.errors:
        logger.warning("skipped %s", error)
    logger.info("imported %d correction(s) from %s", result.imported, path)
    return result
