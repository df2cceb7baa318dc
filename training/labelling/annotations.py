"""Per-annotator label store: one SQLite file in WAL mode, one row per (tweet, annotator).

Every annotator's labels are kept side by side so agreement can be measured and gold labels
adjudicated later (:mod:`training.labelling.adjudicate`); nothing here is gold yet.

Durability: each write is a single ``BEGIN IMMEDIATE ... COMMIT`` transaction with
``synchronous=FULL``, so a killed process loses at most the label in flight and never leaves a
half-written row. WAL lets annotators read while another writes; ``busy_timeout`` makes
concurrent writers wait for each other instead of failing.

``lang`` may be missing (``None``): the routing API's feedback gives topic and urgency only,
and adjudication sends such tweets to a reviewer for the language.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from training.regions import CANONICAL_REGIONS
from training.taxonomy import REPO_ROOT, Taxonomy, default_taxonomy

logger = logging.getLogger(__name__)

DEFAULT_ANNOTATIONS_PATH = REPO_ROOT / "data" / "labels" / "annotations.sqlite"
LABEL_FIELDS = ("topic", "urgency", "lang")
BUSY_TIMEOUT_S = 30.0
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS annotations (
    tweet_id    TEXT NOT NULL,
    annotator   TEXT NOT NULL,
    topic       TEXT NOT NULL,
    urgency     TEXT NOT NULL,
    lang        TEXT,
    text        TEXT NOT NULL,
    labelled_at TEXT NOT NULL,
    source      TEXT NOT NULL,
    region      TEXT,
    created_at  TEXT,
    PRIMARY KEY (tweet_id, annotator)
)
"""
_COLUMNS = (
    "tweet_id",
    "annotator",
    "topic",
    "urgency",
    "lang",
    "text",
    "labelled_at",
    "source",
    "region",
    "created_at",
)
_IN_CHUNK = 500  # stay well under SQLite's bound-parameter limit


class AnnotationError(ValueError):
    """An annotation is invalid; the message names every bad field."""


@dataclass(frozen=True)
class Annotation:
    """One annotator's labels for one tweet."""

    tweet_id: str
    annotator: str
    topic: str
    urgency: str
    lang: str | None
    text: str
    labelled_at: str
    source: str
    region: str | None = None
    created_at: str | None = None

    def labels(self) -> dict[str, str | None]:
        """``{"topic": ..., "urgency": ..., "lang": ...}``."""
        return {f: getattr(self, f) for f in LABEL_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def now_iso() -> str:
    """The current UTC time as ISO 8601 (seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _iso(value: str | datetime | None, field: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    try:
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        problems.append(f"{field}: not an ISO 8601 time: {value!r}")
    return str(value)


def validate_annotation(annotation: Annotation, taxonomy: Taxonomy | None = None) -> Annotation:
    """Check ids, text and times; return the annotation with times as ISO strings.

    Raises :class:`AnnotationError` listing every problem as ``field: problem``.
    """
    taxonomy = taxonomy or default_taxonomy()
    problems: list[str] = []
    if not annotation.tweet_id or len(annotation.tweet_id) > 100:
        problems.append(f"tweet_id: must be 1-100 characters, got {annotation.tweet_id!r}")
    if not annotation.annotator or not annotation.annotator.strip():
        problems.append("annotator: must not be empty")
    if not annotation.source or not annotation.source.strip():
        problems.append("source: must not be empty")
    if not isinstance(annotation.text, str) or not annotation.text.strip():
        problems.append("text: empty text")
    elif "\x00" in annotation.text:
        problems.append("text: contains a NUL character")
    for field in LABEL_FIELDS:
        value = getattr(annotation, field)
        if value is None and field == "lang":
            continue
        allowed = taxonomy.labels_for(field)
        if value not in allowed:
            problems.append(f"{field}: unknown label id {value!r} (allowed: {', '.join(allowed)})")
    if annotation.region is not None and annotation.region not in CANONICAL_REGIONS:
        problems.append(f"region: unknown region {annotation.region!r} (use a canonical Central Java name or null)")
    labelled_at = _iso(annotation.labelled_at, "labelled_at", problems) or now_iso()
    created_at = _iso(annotation.created_at, "created_at", problems)
    if problems:
        raise AnnotationError(f"tweet {annotation.tweet_id!r}: " + "; ".join(problems))
    return replace(annotation, labelled_at=labelled_at, created_at=created_at)


def open_annotations(path: str | Path = DEFAULT_ANNOTATIONS_PATH) -> sqlite3.Connection:
    """Open (creating if needed) the annotation store in WAL mode with a busy timeout.

    The connection is in autocommit mode; writes open their own transactions.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        logger.warning("%s: journal mode is %s, not WAL (network or in-memory file?)", path, mode)
    # FULL: a committed label survives power loss too, not only a killed process; labels are
    # human-paced, so one fsync per label costs nothing noticeable.
    conn.execute("PRAGMA synchronous = FULL")
    with transaction(conn):
        conn.execute(_SCHEMA)
        conn.execute("CREATE INDEX IF NOT EXISTS annotations_by_annotator ON annotations (annotator)")
        conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: ``BEGIN IMMEDIATE`` (takes the write lock up front), commit or roll back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def save_annotations(
    conn: sqlite3.Connection, annotations: Iterable[Annotation], taxonomy: Taxonomy | None = None
) -> int:
    """Validate then write many annotations in one transaction (all or nothing); return the count.

    An annotator labelling the same tweet again replaces their earlier labels.
    """
    checked = [validate_annotation(a, taxonomy) for a in annotations]
    placeholders = ", ".join("?" * len(_COLUMNS))
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[2:])
    sql = (
        f"INSERT INTO annotations ({', '.join(_COLUMNS)}) VALUES ({placeholders}) "
        f"ON CONFLICT (tweet_id, annotator) DO UPDATE SET {updates}"
    )
    with transaction(conn):
        conn.executemany(sql, [tuple(getattr(a, c) for c in _COLUMNS) for a in checked])
    return len(checked)


def save_annotation(
    conn: sqlite3.Connection,
    tweet_id: str,
    annotator: str,
    topic: str,
    urgency: str,
    lang: str | None,
    text: str,
    source: str,
    labelled_at: str | datetime | None = None,
    region: str | None = None,
    created_at: str | datetime | None = None,
    taxonomy: Taxonomy | None = None,
) -> Annotation:
    """Validate and save one annotator's labels for one tweet (one atomic transaction)."""
    annotation = Annotation(
        tweet_id=tweet_id,
        annotator=annotator,
        topic=topic,
        urgency=urgency,
        lang=lang,
        text=text,
        labelled_at=labelled_at or now_iso(),  # validate_annotation turns a datetime into ISO text
        source=source,
        region=region,
        created_at=created_at,
    )
    saved = validate_annotation(annotation, taxonomy)
    save_annotations(conn, [saved], taxonomy)
    return saved


def _row_to_annotation(row: sqlite3.Row) -> Annotation:
    return Annotation(**{c: row[c] for c in _COLUMNS})


def annotations_for(
    conn: sqlite3.Connection, tweet_ids: Iterable[str] | None = None, annotator: str | None = None
) -> list[Annotation]:
    """Annotations (all, or of these tweets / this annotator), ordered by tweet then annotator."""
    where, params = [], []
    if annotator is not None:
        where.append("annotator = ?")
        params.append(annotator)
    base = f"SELECT {', '.join(_COLUMNS)} FROM annotations"
    if tweet_ids is None:
        sql = base + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY tweet_id, annotator"
        return [_row_to_annotation(r) for r in conn.execute(sql, params)]
    ids = list(dict.fromkeys(tweet_ids))
    out: list[Annotation] = []
    for i in range(0, len(ids), _IN_CHUNK):
        chunk = ids[i : i + _IN_CHUNK]
        clauses = [*where, f"tweet_id IN ({', '.join('?' * len(chunk))})"]
        sql = f"{base} WHERE {' AND '.join(clauses)}"
        out.extend(_row_to_annotation(r) for r in conn.execute(sql, [*params, *chunk]))
    return sorted(out, key=lambda a: (a.tweet_id, a.annotator))


def annotated_ids(conn: sqlite3.Connection, annotator: str | None = None) -> set[str]:
    """Ids of tweets with at least one annotation (by this annotator, if given)."""
    if annotator is None:
        return {r[0] for r in conn.execute("SELECT DISTINCT tweet_id FROM annotations")}
    return {r[0] for r in conn.execute("SELECT tweet_id FROM annotations WHERE annotator = ?", (annotator,))}


def annotators(conn: sqlite3.Connection) -> list[str]:
    """Every annotator in the store, sorted."""
    return [r[0] for r in conn.execute("SELECT DISTINCT annotator FROM annotations ORDER BY annotator")]


def progress(
    conn: sqlite3.Connection,
    queued_ids: Sequence[str],
    annotator: str | None = None,
    taxonomy: Taxonomy | None = None,
) -> dict[str, Any]:
    """How far a queue is labelled: ``queued``, ``done``, ``remaining`` and per-class counts.

    ``done`` counts queued tweets with an annotation (by ``annotator`` when given);
    ``per_class`` counts those annotations per label id, every id listed in taxonomy order
    (``lang`` also counts ``None`` as ``"(none)"`` when some are missing).
    """
    taxonomy = taxonomy or default_taxonomy()
    queued = list(dict.fromkeys(queued_ids))
    found = annotations_for(conn, queued, annotator=annotator)
    per_class: dict[str, dict[str, int]] = {}
    for field in LABEL_FIELDS:
        counts = Counter(getattr(a, field) or "(none)" for a in found)
        per_class[field] = {label: counts.get(label, 0) for label in taxonomy.labels_for(field)}
        if counts.get("(none)"):
            per_class[field]["(none)"] = counts["(none)"]
    done = len({a.tweet_id for a in found})
    return {
        "queued": len(queued),
        "done": done,
        "remaining": len(queued) - done,
        "annotations": len(found),
        "per_class": per_class,
    }
