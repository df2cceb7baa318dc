"""Turn multi-annotator labels into gold rows: majority per field, disputes to a reviewer.

For each tweet in the annotation store that is not yet in the label store:

* every field (topic, urgency, lang) with a strict majority (more than half of the annotators
  who gave that field) is decided;
* if all three are decided, the tweet becomes a gold row with annotator ``adjudicated:majority``;
* otherwise (a tie, no majority, or a field nobody gave, such as ``lang`` in API feedback) it is
  flagged: written to the review queue (JSON Lines, rewritten on every run) for a reviewer, who
  settles it with :func:`resolve` (annotator ``adjudicated:<reviewer>``).

Gold rows are appended to ``corpus/annotated-YYYYMMDD.jsonl`` in the label store by reading the
file, adding the rows and rewriting it atomically (:func:`training.labels.write_labels`); an id
already anywhere in the store is never written again. The tweet's source, region and posting
time are kept from the annotations.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from training.config import DEFAULT_LABEL_STORE
from training.labelling.annotations import (
    LABEL_FIELDS,
    Annotation,
    annotations_for,
    now_iso,
    validate_annotation,
)
from training.labels import CORPUS_DIRNAME, LabelRow, atomic_writer, load_labels, write_labels
from training.taxonomy import Taxonomy, default_taxonomy

logger = logging.getLogger(__name__)

DEFAULT_REVIEW_QUEUE = DEFAULT_LABEL_STORE / "review-queue.jsonl"
MAJORITY = "adjudicated:majority"
ADJUDICATED_PREFIX = "adjudicated:"


@dataclass
class Decision:
    """The outcome for one tweet: decided labels (``None`` where disputed) and why a field is disputed."""

    tweet_id: str
    annotations: list[Annotation]
    labels: dict[str, str | None]
    disputed: dict[str, str]

    @property
    def is_gold(self) -> bool:
        return not self.disputed

    def review_item(self) -> dict[str, Any]:
        """The review-queue line for a flagged tweet."""
        first = self.annotations[0]
        return {
            "tweet_id": self.tweet_id,
            "text": first.text,
            "source": _source(self.annotations),
            "region": first.region,
            "majority": self.labels,
            "disputed": self.disputed,
            "annotations": [
                {"annotator": a.annotator, **a.labels(), "labelled_at": a.labelled_at} for a in self.annotations
            ],
            "flagged_at": now_iso(),
        }


@dataclass
class AdjudicationResult:
    """What one adjudication run did."""

    gold: list[LabelRow] = field(default_factory=list)
    flagged: list[dict[str, Any]] = field(default_factory=list)
    already_in_store: int = 0
    pending: int = 0  # tweets with fewer annotators than required
    gold_file: Path | None = None
    review_queue: Path | None = None

    def summary(self) -> str:
        """One line for the command line."""
        where = f" -> {self.gold_file}" if self.gold_file else ""
        return (
            f"gold: {len(self.gold)}{where}; flagged for review: {len(self.flagged)} -> {self.review_queue}; "
            f"already in the label store: {self.already_in_store}; waiting for more annotators: {self.pending}"
        )


def _source(annotations: Sequence[Annotation]) -> str:
    # All annotations of a tweet should share its source; if not, the most common wins (ties: first).
    return Counter(a.source for a in annotations).most_common(1)[0][0]


def decide(annotations: Sequence[Annotation]) -> Decision:
    """Majority vote per field over one tweet's annotations (strictly more than half of those given)."""
    if not annotations:
        raise ValueError("decide: no annotations")
    labels: dict[str, str | None] = {}
    disputed: dict[str, str] = {}
    for name in LABEL_FIELDS:
        values = [getattr(a, name) for a in annotations if getattr(a, name) is not None]
        ranked = Counter(values).most_common()
        if not ranked:
            labels[name], disputed[name] = None, "not given"
        elif ranked[0][1] * 2 > len(values):
            labels[name] = ranked[0][0]
        else:
            tied = len(ranked) > 1 and ranked[0][1] == ranked[1][1]
            labels[name], disputed[name] = None, "tie" if tied else "no majority"
    return Decision(annotations[0].tweet_id, list(annotations), labels, disputed)


def store_ids(store: str | Path, taxonomy: Taxonomy | None = None) -> set[str]:
    """Ids already in the label store (empty when it has no label files yet)."""
    try:
        return {row.id for row in load_labels(store, taxonomy)}
    except FileNotFoundError:
        return set()


def gold_file_for(store: str | Path, day: date | None = None) -> Path:
    """``<store>/corpus/annotated-YYYYMMDD.jsonl`` for the given day (default: today, UTC)."""
    day = day or datetime.now(UTC).date()
    return Path(store) / CORPUS_DIRNAME / f"annotated-{day:%Y%m%d}.jsonl"


@contextmanager
def _corpus_lock(store: Path) -> Iterator[None]:
    # Read-append-rewrite is not atomic across processes; a lock on the corpus folder keeps two
    # adjudications from overwriting each other's rows (the folder itself, so no lock file appears).
    corpus = store / CORPUS_DIRNAME
    corpus.mkdir(parents=True, exist_ok=True)
    fd = os.open(corpus, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def append_gold(
    store: str | Path, rows: Sequence[LabelRow], day: date | None = None, taxonomy: Taxonomy | None = None
) -> tuple[Path, list[LabelRow]]:
    """Append gold rows to today's gold file atomically, skipping ids already in the store.

    Returns the file and the rows actually written.
    """
    store = Path(store)
    target = gold_file_for(store, day)
    with _corpus_lock(store):
        existing = store_ids(store, taxonomy)  # validates the whole store: never write into a broken one
        fresh, seen = [], set(existing)
        for row in rows:
            if row.id in seen:
                logger.warning("%s is already in the label store; not written again", row.id)
                continue
            seen.add(row.id)
            fresh.append(row)
        if fresh:
            kept = load_labels(target, taxonomy) if target.exists() else []
            write_labels(target, [*kept, *fresh])
            logger.info("appended %d gold row(s) to %s", len(fresh), target)
    return target, fresh


def _gold_row(decision: Decision, annotator: str, labels: dict[str, str | None]) -> LabelRow:
    first = decision.annotations[0]
    created = next((a.created_at for a in decision.annotations if a.created_at), None)
    region = next((a.region for a in decision.annotations if a.region), None)
    return LabelRow(
        id=decision.tweet_id,
        text=first.text,
        topic=labels["topic"],
        urgency=labels["urgency"],
        lang=labels["lang"],
        source=_source(decision.annotations),
        annotator=annotator,
        labelled_at=now_iso(),
        created_at=created,
        region=region,
    )


def write_review_queue(path: str | Path, items: Sequence[dict[str, Any]]) -> Path:
    """Rewrite the review queue atomically (one JSON object per line)."""
    with atomic_writer(path) as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    return Path(path)


def read_review_queue(path: str | Path) -> list[dict[str, Any]]:
    """The flagged tweets waiting for a reviewer ([] when there is no queue)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def adjudicate(
    conn: sqlite3.Connection,
    store: str | Path = DEFAULT_LABEL_STORE,
    review_queue: str | Path = DEFAULT_REVIEW_QUEUE,
    min_annotators: int = 1,
    day: date | None = None,
    taxonomy: Taxonomy | None = None,
) -> AdjudicationResult:
    """Adjudicate every annotated tweet not yet in the label store.

    Tweets labelled by fewer than ``min_annotators`` annotators wait. Majority decisions are
    appended as gold; disputed tweets are written to ``review_queue`` (which is rewritten, so it
    always lists exactly the open disputes).
    """
    if min_annotators < 1:
        raise ValueError(f"min_annotators: must be at least 1, got {min_annotators}")
    taxonomy = taxonomy or default_taxonomy()
    done = store_ids(store, taxonomy)
    by_tweet: dict[str, list[Annotation]] = defaultdict(list)
    for a in annotations_for(conn):
        by_tweet[a.tweet_id].append(a)
    result = AdjudicationResult(review_queue=Path(review_queue))
    gold = []
    for tweet_id, anns in sorted(by_tweet.items()):
        if tweet_id in done:
            result.already_in_store += 1
            continue
        if len(anns) < min_annotators:
            result.pending += 1
            continue
        decision = decide(anns)
        if decision.is_gold:
            gold.append(_gold_row(decision, MAJORITY, decision.labels))
        else:
            result.flagged.append(decision.review_item())
    if gold:
        result.gold_file, result.gold = append_gold(store, gold, day, taxonomy)
    write_review_queue(review_queue, result.flagged)
    logger.info(result.summary())
    return result


def resolve(
    conn: sqlite3.Connection,
    tweet_id: str,
    reviewer: str,
    topic: str,
    urgency: str,
    lang: str,
    store: str | Path = DEFAULT_LABEL_STORE,
    review_queue: str | Path | None = DEFAULT_REVIEW_QUEUE,
    day: date | None = None,
    taxonomy: Taxonomy | None = None,
) -> LabelRow:
    """A reviewer settles a tweet: append it as gold (annotator ``adjudicated:<reviewer>``).

    Raises ``ValueError`` for an unknown label id (naming the field), a tweet nobody annotated,
    or a tweet already in the label store. The tweet leaves the review queue.
    """
    taxonomy = taxonomy or default_taxonomy()
    if not reviewer or not reviewer.strip():
        raise ValueError("reviewer: must not be empty")
    anns = annotations_for(conn, [tweet_id])
    if not anns:
        raise ValueError(f"tweet_id: {tweet_id!r} has no annotations; nothing to resolve")
    # Validate the reviewer's labels exactly as an annotation would be (errors name the field).
    validate_annotation(
        Annotation(tweet_id, reviewer, topic, urgency, lang, anns[0].text, now_iso(), anns[0].source), taxonomy
    )
    if lang is None:
        raise ValueError("lang: a gold row needs a language")
    decision = Decision(tweet_id, anns, {"topic": topic, "urgency": urgency, "lang": lang}, {})
    row = _gold_row(decision, f"{ADJUDICATED_PREFIX}{reviewer}", decision.labels)
    _, written = append_gold(store, [row], day, taxonomy)
    if not written:
        raise ValueError(f"tweet_id: {tweet_id!r} is already in the label store")
    if review_queue is not None and Path(review_queue).exists():
        remaining = [item for item in read_review_queue(review_queue) if item.get("tweet_id") != tweet_id]
        write_review_queue(review_queue, remaining)
    logger.info("%s resolved %s as %s/%s/%s", reviewer, tweet_id, topic, urgency, lang)
    return row
