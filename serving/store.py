"""The prediction log: every routed tweet, through SQLAlchemy (SQLite in WAL mode by default).

The same code runs on PostgreSQL given a ``postgresql://`` URL. Analytics read this log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    create_engine,
    event,
    insert,
)

logger = logging.getLogger(__name__)
metadata = MetaData()


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive value is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UtcDateTime(TypeDecorator):
    """A timestamp stored in UTC and read back timezone-aware (UTC) on every backend.

    SQLite keeps DATETIME as text without an offset, so an aware value in +07:00 would otherwise be
    stored as its wall-clock time; converting to UTC on the way in keeps every stored instant comparable
    (text order = time order), so analytics can range-scan times in SQL. Naive values are taken as UTC.
    The DDL is the plain ``DateTime(timezone=True)`` (TIMESTAMP WITH TIME ZONE on PostgreSQL).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)


routed_tweets = Table(
    "routed_tweets",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("tweet_id", String(100), nullable=True),
    Column("request_id", String(64), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=True),
    Column("text", Text, nullable=False),
    Column("topic", String(32), nullable=False),
    Column("topic_confidence", Float, nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("urgency_confidence", Float, nullable=False),
    Column("lang", String(8), nullable=True),
    Column("region", String(64), nullable=True),
    Column("agency_handle", String(64), nullable=True),
    Column("needs_review", Boolean, nullable=False),
    Column("topic_version", String(200), nullable=False),
    Column("urgency_version", String(200), nullable=False),
    Column("latency_ms", Float, nullable=False),
    Index("ix_routed_tweet_id", "tweet_id"),
    Index("ix_routed_received_at", "received_at"),
)


def make_engine(url: str) -> Engine:
    """An engine for the log; SQLite gets WAL and a busy timeout so concurrent writers wait."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Stats queries scan a month of the log: a 64 MiB page cache and memory-mapped reads keep
            # those pages out of repeated read() calls (SQLite's default cache is 2 MiB).
            cur.execute("PRAGMA cache_size=-65536")
            cur.execute("PRAGMA mmap_size=268435456")
            cur.close()

    # The analytics tables (replies, corrections, tweet_facts) share this metadata; importing them here means every
    # engine on the log has the whole schema, including indexes added to a log created before them.
    from serving.analytics.store import ensure_schema

    ensure_schema(engine)
    return engine


@dataclass
class _PendingAppend:
    rows: list[dict[str, Any]]
    done: bool = False
    error: BaseException | None = None


class PredictionLog:
    """Append-only log of routed tweets, written with group commit.

    Each append is one transaction (the rows and their analytics facts), and a request returns only once
    its rows are committed. Concurrent appends do not each take SQLite's write lock in turn: whoever gets
    the writer's turn commits everything queued by then in one transaction while the others wait for it.
    Under load that replaces many lock hand-overs (and SQLite's busy-wait sleeps) by few larger commits;
    alone, an append is written at once, as before.
    """

    def __init__(self, engine: Engine):
        # Imported here, once: the analytics schema builds on this module's table (see make_engine).
        from serving.analytics.facts import refresh_facts

        self.engine = engine
        self._refresh_facts = refresh_facts
        self._queue: list[_PendingAppend] = []
        self._queue_lock = threading.Lock()
        self._writer = threading.Lock()

    def append(self, rows: Sequence[dict[str, Any]]) -> None:
        """Log routed tweets and refresh their analytics facts; returns once they are committed."""
        if not rows:
            return
        mine = _PendingAppend(list(rows))
        with self._queue_lock:
            self._queue.append(mine)
        with self._writer:
            if not mine.done:  # nobody took ours yet: we write everything queued so far
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(batch)
        if mine.error is not None:
            raise mine.error

    def _commit(self, batch: list[_PendingAppend]) -> None:
        try:
            self._write([row for pending in batch for row in pending.rows])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:  # one bad append must not fail the others: write them one by one
                for pending in batch:
                    try:
                        self._write(pending.rows)
                    except Exception as own:
                        pending.error = own
        except BaseException:  # interrupted (KeyboardInterrupt, SystemExit): none of the batch is known stored
            for pending in batch:  # the waiting callers fail instead of reporting rows as logged
                pending.error = RuntimeError("the prediction-log write was interrupted")
            raise
        finally:
            for pending in batch:
                pending.done = True

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            stmt = insert(routed_tweets).returning(routed_tweets.c.pk, sort_by_parameter_order=True)
            pks = conn.execute(stmt, rows).scalars().all()
            ids = [row["tweet_id"] for row in rows if row.get("tweet_id") is not None]
            idless = [pk for pk, row in zip(pks, rows, strict=True) if row.get("tweet_id") is None]
            self._refresh_facts(conn, ids, idless)

    def count(self) -> int:
        from sqlalchemy import func, select

        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(routed_tweets)).scalar_one())


def log_row(**fields: Any) -> dict[str, Any]:
    """A row for :data:`routed_tweets`, times in UTC (naive datetimes are taken as UTC)."""
    for key in ("received_at", "created_at"):
        value = fields.get(key)
        if isinstance(value, datetime):
            fields[key] = as_utc(value)
    return fields
