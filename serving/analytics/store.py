"""Writes to the analytics store: agency replies and reviewers' corrections, and the schema upkeep.

The tables are defined in :mod:`serving.analytics.tables`; each write refreshes the tweet's row of the
``tweet_facts`` projection in the same transaction (:mod:`serving.analytics.facts`), so a stats query
right after a write sees it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, inspect, select
from sqlalchemy.exc import IntegrityError

from serving.analytics.facts import analyze, dialect_insert, rebuild_facts, refresh_facts
from serving.analytics.tables import RETIRED_LOG_INDEXES, TWEET_TIME, corrections, replies, tweet_facts
from serving.store import as_utc, make_engine, metadata, routed_tweets

logger = logging.getLogger(__name__)

__all__ = [
    "TWEET_TIME",
    "ReplyRejected",
    "RoutedTweet",
    "StoredReply",
    "corrections",
    "ensure_schema",
    "first_routing",
    "get_reply",
    "open_store",
    "record_reply",
    "replies",
    "tweet_facts",
    "upsert_correction",
]


def ensure_schema(engine: Engine) -> None:
    """Create what is missing of the analytics schema (idempotent, safe on an existing log).

    On a log written before ``tweet_facts`` existed, the projection is built from the events once; indexes
    that earlier versions put on the log for the stats are dropped. On SQLite the planner's statistics on
    the facts are refreshed (bounded, milliseconds).
    """
    had_facts = inspect(engine).has_table(tweet_facts.name)
    metadata.create_all(engine)
    with engine.begin() as conn:
        for name in RETIRED_LOG_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
        has_log = conn.execute(select(routed_tweets.c.pk).limit(1)).first() is not None
    if not had_facts and has_log:
        logger.info("building tweet_facts from the existing prediction log (once)")
        rebuild_facts(engine)
    with engine.begin() as conn:
        analyze(conn)


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
    return RoutedTweet(row.tweet_id, as_utc(row.tweet_time), row.agency_handle)


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
    return StoredReply(row.reply_id, row.tweet_id, row.agency_handle, as_utc(row.replied_at), as_utc(row.recorded_at))


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
            refresh_facts(conn, [tweet_id])
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
    values = {
        "tweet_id": tweet_id,
        "topic": topic,
        "urgency": urgency,
        "lang": lang,
        "reviewer": reviewer,
        "corrected_at": corrected_at.astimezone(UTC),
    }
    stmt = dialect_insert(engine.dialect.name)(corrections).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[corrections.c.tweet_id],
        set_={k: stmt.excluded[k] for k in values if k != "tweet_id"},
        # A late-arriving older correction must not overwrite a newer one.
        where=stmt.excluded.corrected_at >= corrections.c.corrected_at,
    )
    with engine.begin() as conn:
        conn.execute(stmt)
        refresh_facts(conn, [tweet_id])
