"""The analytics schema beside the prediction log: agency replies, reviewers' final labels, per-tweet facts.

Every table lives on the same SQLAlchemy ``metadata`` as ``routed_tweets`` (one database, one engine), so the
same code runs on SQLite (WAL, the default) and on PostgreSQL given a URL.

* ``replies`` and ``corrections`` are the events as received (times in UTC, :class:`serving.store.UtcDateTime`).
* ``tweet_facts`` is a projection, one row per tweet, kept up to date on every write
  (:mod:`serving.analytics.facts`): the tweet's first routing, its final labels (the correction where one
  exists) and its first reply, with both times as integer milliseconds since 1970 (UTC). The stats read
  only this table, so a query never repeats the "first routing?", "corrected?" and "first reply?" probes
  per row, nor parses a timestamp.

Indexes, chosen for the queries in :mod:`serving.analytics.queries` (times measured on the benchmark's
one-million-tweet store, ``kemala bench-stats``):

* ``tweet_facts(topic|urgency|lang|region, tweet_ms, complaint)``: volumes grouped by one
  dimension over a time range. SQLite skip-scans them (one range seek per distinct value, rows arrive in
  group order, no sort), which needs the planner's statistics: :func:`serving.analytics.store.ensure_schema`
  runs a bounded ``ANALYZE`` when it opens the store. The one-byte ``complaint`` flag (final topic is not
  ``lainnya``) is in each so the ``lainnya`` share is read from the index too (a fifth faster than
  carrying the topic string there, on a 12-month range).
* ``tweet_facts(tweet_ms, topic, urgency, first_reply_ms, tweet_id)`` (``ix_facts_time``): response times read
  every complaint of a range from this index alone; the report's texts and the newest tweet use it too.
* ``tweet_facts(topic, urgency, tweet_ms, pk) WHERE first_reply_ms IS NULL AND tweet_id IS NOT NULL``
  (``ix_facts_open``, partial): the backlog reads only unanswered tweets, per topic and urgency, oldest first.
* ``tweet_facts(tweet_id)`` is unique: the projection's upsert key.
* ``replies(tweet_id, replied_at)``: a tweet's first reply is the front of this index (projection upkeep).
* ``corrections`` is keyed by ``tweet_id``.
* ``routed_tweets(tweet_id)`` (from the log): "which routing came first?" and reply validation.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, func

from serving.store import UtcDateTime, metadata, routed_tweets

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
)

tweet_facts = Table(
    "tweet_facts",
    metadata,
    # The pk of the tweet's first routing in routed_tweets (its text, for the backlog and the report).
    Column("pk", Integer, primary_key=True, autoincrement=False),
    # NULL for a routing sent without an id: it counts once and can never be replied to.
    Column("tweet_id", String(100), nullable=True, unique=True),
    Column("tweet_ms", BigInteger, nullable=False),  # created_at, else received_at; ms since 1970 UTC
    Column("topic", String(32), nullable=False),  # final labels: the correction where one exists
    Column("urgency", String(16), nullable=False),
    Column("lang", String(8), nullable=True),
    Column("region", String(64), nullable=True),
    Column("complaint", Boolean, nullable=False),  # the final topic is not lainnya
    Column("first_reply_ms", BigInteger, nullable=True),  # NULL while unanswered
    Index("ix_facts_topic_time", "topic", "tweet_ms", "complaint"),
    Index("ix_facts_urgency_time", "urgency", "tweet_ms", "complaint"),
    Index("ix_facts_lang_time", "lang", "tweet_ms", "complaint"),
    Index("ix_facts_region_time", "region", "tweet_ms", "complaint"),
    Index("ix_facts_time", "tweet_ms", "topic", "urgency", "first_reply_ms", "tweet_id"),
)
_OPEN = tweet_facts.c.first_reply_ms.is_(None) & tweet_facts.c.tweet_id.is_not(None)
ix_facts_open = Index(
    "ix_facts_open",
    tweet_facts.c.topic,
    tweet_facts.c.urgency,
    tweet_facts.c.tweet_ms,
    tweet_facts.c.pk,
    sqlite_where=_OPEN,
    postgresql_where=_OPEN,
)

# When the complaint happened: the tweet's own time when the client sent it, else when it was routed.
TWEET_TIME = func.coalesce(routed_tweets.c.created_at, routed_tweets.c.received_at)

# Indexes earlier versions put on the log for the stats; the stats now read tweet_facts, so
# ensure_schema drops them (they only slowed every routed tweet's insert).
RETIRED_LOG_INDEXES = ("ix_routed_tweet_time", "ix_routed_labels_time", "ix_corrections_labels")
