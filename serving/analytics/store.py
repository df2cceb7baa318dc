"""Analytics tables beside the prediction log: agency replies and reviewers' final labels.

They live on the same SQLAlchemy ``metadata`` as ``routed_tweets`` (one database, one engine), so the
same code runs on SQLite (WAL, the default) and on PostgreSQL given a URL. Every time is stored in UTC
(:class:`serving.store.UtcDateTime`); reports convert to the configured zone (WIB).

Indexes, chosen for the queries in :mod:`serving.analytics.queries`:

* ``routed_tweets(coalesce(created_at, received_at), pk, tweet_id, topic, urgency, lang, region, created_at,
  received_at)`` (``ix_routed_tweet_time``): every stats query filters and orders on the tweet's time (when
  it was posted, else when it was routed); this expression index lets SQLite and PostgreSQL range-scan it
  instead of the whole log, and it covers the columns the stats read, so the wide rows (text) are not
  touched (measured on 1M rows: about a fifth off a month's query). ``pk`` breaks ties so the backlog's
  "oldest first" comes out of the index already ordered.
* ``routed_tweets(tweet_id)`` (``ix_routed_tweet_id``, from the log): "is this the tweet's first
  routing?" is an index probe ``tweet_id = ? AND pk < ?`` per row, and reply validation finds the tweet.
* ``replies(tweet_id, replied_at)`` (``ix_replies_tweet_replied``): the first reply to a tweet is
  ``min(replied_at)`` read from the front of this index, "unanswered" is a probe of the same index.
* ``routed_tweets(topic, urgency, coalesce(created_at, received_at), pk)`` (``ix_routed_labels_time``): the
  backlog reads each topic and urgency oldest first and stops at the limit, instead of walking the whole
  log in time order (1M rows: one 2% agency from ~260 ms to a few ms; an urgency with nothing overdue
  from a 1.3 s full walk to the rows of that urgency).
* ``corrections`` is keyed by ``tweet_id``: the COALESCE join to the final labels is a primary-key probe;
  ``corrections(topic, urgency)`` serves the corrected half of one agency's backlog.
* ``routed_tweets(received_at)`` (``ix_routed_received_at``, from the log) stays for log maintenance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Connection, Engine, Index, String, Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateIndex

from serving.store import UtcDateTime, make_engine, metadata, routed_tweets

logger = logging.getLogger(__name__)

replies = Table(
    "replies",
    metadata,
    Column("reply_id", String(100), primary_key=True),
    Column("tweet_id", String(100), nullable=False),
    Column("agency_handle", String(64), nullable=False),
    Column("replied_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_replies_tweet_replied", "tweet_id", "replied_at"),
)

corrections = Table(
    "corrections",
    metadata,
    Column("tweet_id", String(100), primary_key=True),
    Column("topic", String(32), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("lang", String(8), nullable=True),
    Column("reviewer", String(100), nullable=False),
    Column("corrected_at", UtcDateTime, nullable=False),
    Index("ix_corrections_labels", "topic", "urgency"),
)

# When the complaint happened: the tweet's own time when the client sent it, else when it was routed.
TWEET_TIME = func.coalesce(routed_tweets.c.created_at, routed_tweets.c.received_at)
# Covering: the stats read every column they need from this index and never touch the wide log rows
# (SQLite only treats an expression index as covering when the expression's own columns are in it too).
ix_routed_tweet_time = Index(
    "ix_routed_tweet_time",
    TWEET_TIME,
    *(routed_tweets.c[name] for name in ("pk", "tweet_id", "topic", "urgency", "lang", "region")),
    routed_tweets.c.created_at,
    routed_tweets.c.received_at,
)

# One agency's backlog: its topic and urgency as predicted, oldest first, without scanning other agencies.
ix_routed_labels_time = Index(
    "ix_routed_labels_time", routed_tweets.c.topic, routed_tweets.c.urgency, TWEET_TIME, routed_tweets.c.pk
)

# Indexes on the log table itself: ``create_all`` skips them for a log created before analytics existed.
_LOG_INDEXES = (ix_routed_tweet_time, ix_routed_labels_time)


def ensure_schema(engine: Engine) -> None:
    """Create the analytics tables and indexes that are missing (idempotent, safe on an existing log)."""
    metadata.create_all(engine)
    # IF NOT EXISTS rather than checkfirst: SQLAlchemy cannot reflect expression indexes to compare.
    with engine.begin() as conn:
        for index in _LOG_INDEXES:
            conn.execute(CreateIndex(index, if_not_exists=True))


def open_store(url: str) -> Engine:
    """An engine on the prediction log with the analytics schema in place."""
    return make_engine(url)


@dataclass(frozen=True)
class RoutedTweet:
    """What reply validation needs about a tweet's first routing."""

    tweet_id: str
    tweet_time: datetime
    agency_handle: str | None


def first_routing(conn: Connection, tweet_id: str) -> RoutedTweet | None:
    """The tweet's first routing (lowest ``pk``), or None when it was never routed."""
    row = conn.execute(
        select(routed_tweets.c.tweet_id, TWEET_TIME.label("tweet_time"), routed_tweets.c.agency_handle)
        .where(routed_tweets.c.tweet_id == tweet_id)
        .order_by(routed_tweets.c.pk)
        .limit(1)
    ).first()
    if row is None:
        return None
    return RoutedTweet(row.tweet_id, _as_utc(row.tweet_time), row.agency_handle)


class ReplyRejected(ValueError):
    """A reply that cannot be stored; ``field`` names the offending input, ``status`` the HTTP status."""

    def __init__(self, field: str, msg: str, kind: str, status: int = 422):
        self.field, self.msg, self.kind, self.status = field, msg, kind, status
        super().__init__(f"{field}: {msg}")


@dataclass(frozen=True)
class StoredReply:
    reply_id: str
    tweet_id: str
    agency_handle: str
    replied_at: datetime
    recorded_at: datetime


def _stored(row: Any) -> StoredReply:
    return StoredReply(row.reply_id, row.tweet_id, row.agency_handle, _as_utc(row.replied_at), _as_utc(row.recorded_at))


def get_reply(conn: Connection, reply_id: str) -> StoredReply | None:
    row = conn.execute(select(replies).where(replies.c.reply_id == reply_id)).first()
    return _stored(row) if row is not None else None


def _same(stored: StoredReply, tweet_id: str, agency_handle: str, replied_at: datetime) -> bool:
    # The same instant written with another offset is the same reply.
    return (stored.tweet_id, stored.agency_handle, stored.replied_at) == (
        tweet_id,
        agency_handle,
        replied_at.astimezone(UTC),
    )


def _check_existing(existing: StoredReply, tweet_id: str, agency_handle: str, replied_at: datetime) -> StoredReply:
    if _same(existing, tweet_id, agency_handle, replied_at):
        return existing
    raise ReplyRejected(
        "reply_id",
        f"reply {existing.reply_id!r} is already stored with different content "
        f"(tweet {existing.tweet_id}, {existing.agency_handle}, {existing.replied_at.isoformat()})",
        "conflict",
        409,
    )


def record_reply(
    engine: Engine, reply_id: str, tweet_id: str, agency_handle: str, replied_at: datetime, now: datetime
) -> tuple[StoredReply, bool]:
    """Store one agency reply; returns ``(record, created)``. Idempotent on ``reply_id``.

    The same body again returns the stored record (``created`` False); a different body for a stored
    ``reply_id`` raises :class:`ReplyRejected` (409). The tweet must have been routed and the reply must
    not precede it. Checks run before the insert in one transaction, so a rejected reply writes nothing.
    The agency handle is checked against the taxonomy by the caller.
    """
    if replied_at.tzinfo is None:
        raise ReplyRejected("replied_at", "needs a timezone offset (e.g. 2026-11-02T08:15:00+07:00)", "timezone")
    try:
        with engine.begin() as conn:
            existing = get_reply(conn, reply_id)
            if existing is not None:
                return _check_existing(existing, tweet_id, agency_handle, replied_at), False
            tweet = first_routing(conn, tweet_id)
            if tweet is None:
                raise ReplyRejected("tweet_id", f"unknown tweet id {tweet_id!r}: it was never routed", "unknown_tweet")
            if replied_at < tweet.tweet_time:
                raise ReplyRejected(
                    "replied_at",
                    f"{replied_at.isoformat()} is before the tweet ({tweet.tweet_time.isoformat()})",
                    "before_tweet",
                )
            row = {
                "reply_id": reply_id,
                "tweet_id": tweet_id,
                "agency_handle": agency_handle,
                "replied_at": replied_at.astimezone(UTC),
                "recorded_at": now.astimezone(UTC),
            }
            conn.execute(replies.insert().values(**row))
            return StoredReply(**row), True
    except IntegrityError:
        # A concurrent request stored the same reply_id between our read and our insert.
        with engine.connect() as conn:
            existing = get_reply(conn, reply_id)
        if existing is None:
            raise
        return _check_existing(existing, tweet_id, agency_handle, replied_at), False


def upsert_correction(
    engine: Engine,
    tweet_id: str,
    topic: str,
    urgency: str,
    lang: str | None,
    reviewer: str,
    corrected_at: datetime,
) -> None:
    """Store a reviewer's final labels for a tweet; the latest correction wins (by ``corrected_at``)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"upsert on {engine.dialect.name}")
    values = {
        "tweet_id": tweet_id,
        "topic": topic,
        "urgency": urgency,
        "lang": lang,
        "reviewer": reviewer,
        "corrected_at": corrected_at.astimezone(UTC),
    }
    stmt = insert(corrections).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[corrections.c.tweet_id],
        set_={k: stmt.excluded[k] for k in values if k != "tweet_id"},
        # A late-arriving older correction must not overwrite a newer one.
        where=stmt.excluded.corrected_at >= corrections.c.corrected_at,
    )
    with engine.begin() as conn:
        conn.execute(stmt)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
