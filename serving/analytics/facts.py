"""The ``tweet_facts`` projection: one row per tweet, maintained on every write, read by every stats query.

A fact is derived from the events by one definition, :func:`facts_source`:

* the tweet's first routing (lowest ``pk`` of its id; a routing without an id is its own tweet),
* its final labels: the reviewer's correction where one exists, the prediction otherwise (and whether
  the final topic makes it a complaint, i.e. is not ``lainnya``),
* its time (``created_at``, else ``received_at``) and its first reply, as integer milliseconds since 1970 UTC
  (floored), so the stats compare and subtract integers instead of parsing timestamps per row.

Every write path refreshes the facts of the tweets it touched inside its own transaction (an append of
routings, a reply, a correction), so the projection is never behind the events; :func:`rebuild_facts`
recomputes the whole table from the events (first start on an existing log, after manual edits, and in
the benchmark's bulk load). Tests check that the maintained table equals a rebuild.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, Connection, Engine, Integer, Select, bindparam, cast, exists, func, or_, select
from sqlalchemy.schema import CreateIndex, DropIndex

from serving.analytics.tables import TWEET_TIME, corrections, replies, tweet_facts
from serving.store import as_utc, routed_tweets
from training.taxonomy import NOT_ROUTED_TOPIC

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
FACT_COLUMNS = [c.name for c in tweet_facts.columns]


def epoch_ms(moment: datetime) -> int:
    """``moment`` as integer milliseconds since 1970 UTC, floored (naive values are taken as UTC)."""
    return (as_utc(moment) - EPOCH) // _MS


def from_epoch_ms(value: int) -> datetime:
    """The UTC instant of a millisecond timestamp (exact: no float on the way)."""
    return EPOCH + timedelta(milliseconds=int(value))


def ms_sql(dialect: str, moment):
    """SQL for a stored :class:`~serving.store.UtcDateTime` as integer milliseconds since 1970, floored.

    Integer arithmetic on both backends so SQL and :func:`epoch_ms` agree to the millisecond: SQLite
    stores ``YYYY-MM-DD HH:MM:SS.ffffff`` (whole seconds from ``strftime('%s')``, milliseconds from the
    first three fraction digits); PostgreSQL's ``extract(epoch)`` is an exact numeric.
    """
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", moment) * 1000), BigInteger)
    seconds = cast(func.strftime("%s", func.substr(moment, 1, 19)), Integer)
    return seconds * 1000 + cast(func.substr(moment, 21, 3), Integer)


_earlier = routed_tweets.alias("earlier")
# The first routing of its tweet id (a NULL id never matches, so id-less tweets each count once).
IS_FIRST = ~exists().where(_earlier.c.tweet_id == routed_tweets.c.tweet_id, _earlier.c.pk < routed_tweets.c.pk)


def facts_source(dialect: str) -> Select:
    """The facts of every tweet as a SELECT over the events (filter it to refresh some tweets)."""
    first_reply = (
        select(ms_sql(dialect, func.min(replies.c.replied_at)))
        .where(replies.c.tweet_id == routed_tweets.c.tweet_id)
        .scalar_subquery()
    )
    topic = func.coalesce(corrections.c.topic, routed_tweets.c.topic)
    return (
        select(
            routed_tweets.c.pk,
            routed_tweets.c.tweet_id,
            ms_sql(dialect, TWEET_TIME).label("tweet_ms"),
            topic.label("topic"),
            func.coalesce(corrections.c.urgency, routed_tweets.c.urgency).label("urgency"),
            func.coalesce(corrections.c.lang, routed_tweets.c.lang).label("lang"),
            routed_tweets.c.region,
            (topic != NOT_ROUTED_TOPIC).label("complaint"),
            first_reply.label("first_reply_ms"),
        )
        .select_from(routed_tweets.outerjoin(corrections, corrections.c.tweet_id == routed_tweets.c.tweet_id))
        .where(IS_FIRST)
    )


def dialect_insert(dialect: str):
    """The dialect's ``insert`` construct, which has ``on_conflict_do_*`` (SQLite and PostgreSQL)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"upsert on {dialect}")
    return insert


@functools.cache
def _refresh_statement(dialect: str):
    """The upsert of some tweets' facts, built once per dialect (building it per call cost more than running it)."""
    wanted = or_(
        routed_tweets.c.tweet_id.in_(bindparam("ids", expanding=True)),
        routed_tweets.c.pk.in_(bindparam("pks", expanding=True)) & routed_tweets.c.tweet_id.is_(None),
    )
    stmt = dialect_insert(dialect)(tweet_facts).from_select(FACT_COLUMNS, facts_source(dialect).where(wanted))
    return stmt.on_conflict_do_update(
        index_elements=[tweet_facts.c.tweet_id],
        set_={name: stmt.excluded[name] for name in FACT_COLUMNS if name != "tweet_id"},
    )


def refresh_facts(conn: Connection, tweet_ids: Sequence[str] = (), idless_pks: Sequence[int] = ()) -> None:
    """Recompute the facts of these tweets from the events, in the caller's transaction.

    ``tweet_ids``: tweets whose routing, reply or correction just changed (an id never routed is a no-op);
    ``idless_pks``: routings just logged without an id. An upsert on ``tweet_id``, so two writers refreshing
    the same tweet both leave the row right.
    """
    ids, pks = sorted(set(tweet_ids)), sorted(set(idless_pks))
    if ids or pks:
        conn.execute(_refresh_statement(conn.dialect.name), {"ids": ids, "pks": pks})


def rebuild_facts(engine: Engine) -> int:
    """Recompute the whole projection from the events in one transaction; returns the number of facts.

    The facts' secondary indexes are dropped during the load and rebuilt after it (much faster than
    maintaining them row by row on a large log); readers see the old table until the commit.
    """
    dialect = engine.dialect.name
    indexes = list(tweet_facts.indexes)
    with engine.begin() as conn:
        for index in indexes:
            conn.execute(DropIndex(index, if_exists=True))
        conn.execute(tweet_facts.delete())
        conn.execute(tweet_facts.insert().from_select(FACT_COLUMNS, facts_source(dialect)))
        for index in indexes:
            conn.execute(CreateIndex(index, if_not_exists=True))
        count = conn.execute(select(func.count()).select_from(tweet_facts)).scalar_one()
    logger.info("tweet_facts rebuilt: %s tweets", f"{count:,}")
    return int(count)


def analyze(conn: Connection) -> None:
    """Give SQLite's planner statistics on the facts (bounded: milliseconds however large the table).

    Without them SQLite does not know that a dimension has few distinct values and sorts a whole range
    instead of skip-scanning the dimension's index. PostgreSQL's autovacuum keeps its own statistics.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("ANALYZE tweet_facts")


class PlannerStatistics:
    """Keeps SQLite's planner statistics on the facts fresh in a long-running process.

    Statistics taken while the store was small (a new deployment opens an empty one) would keep the
    planner from skip-scanning the dimension indexes for the life of the process; refreshing them at
    most every ``interval_s`` seconds, before a stats query, follows the log as it grows. The first
    refresh is due one interval after creation (:func:`serving.analytics.store.ensure_schema` has just
    analysed).
    """

    def __init__(self, engine: Engine, interval_s: float = 3600.0):
        self.engine, self.interval_s = engine, interval_s
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def refresh_if_due(self) -> bool:
        """Analyse when the interval has passed (one caller at a time); True when it did."""
        if self.engine.dialect.name != "sqlite" or time.monotonic() - self._last < self.interval_s:
            return False
        if not self._lock.acquire(blocking=False):
            return False  # another request is refreshing right now
        try:
            with self.engine.begin() as conn:
                analyze(conn)
            self._last = time.monotonic()
            return True
        finally:
            self._lock.release()
