"""Complaint analytics as pure functions over an :class:`~sqlalchemy.Engine` (API, report and notebook use them).

Conventions, applied by every function here:

* A tweet's time is ``created_at`` when the client sent it, else ``received_at`` (:data:`TWEET_TIME`).
* A tweet id routed more than once counts once, with its first routing (lowest ``pk``).
* Labels are the reviewer's correction where one exists, the prediction otherwise (a COALESCE join to
  ``corrections``); the agency follows the final topic, so a corrected topic moves the tweet.
* ``lainnya`` is not a complaint: volumes report it separately; response times and the backlog skip it.
* Ranges are ``[start, end)`` instants; periods start at local midnight in the reporting zone (WIB by
  default): the day, the Monday, the 1st of the month.
* Volumes are counted in SQL. Response times fetch one row per complaint (time to first reply, age)
  and aggregate in numpy: percentiles are not portable SQL.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Engine, bindparam, case, exists, func, literal, select

from serving.analytics.schemas import (
    BacklogItemPublic,
    BacklogPublic,
    ComplaintStatsPublic,
    CountsPublic,
    GroupCountPublic,
    PeriodCountsPublic,
    ResponseTimeGroupPublic,
    ResponseTimesPublic,
)
from serving.analytics.store import TWEET_TIME, corrections, replies
from serving.store import UtcDateTime, routed_tweets
from training.regions import CANONICAL_REGIONS
from training.taxonomy import NOT_ROUTED_TOPIC, Taxonomy

if TYPE_CHECKING:
    from serving.settings import Settings

logger = logging.getLogger(__name__)

INTERVALS = ("day", "week", "month")
COMPLAINT_GROUPS = ("topic", "agency", "region", "urgency", "lang")
RESPONSE_GROUPS = ("agency", "urgency", "topic")
MAX_PERIODS = 1000
# Accepted range bounds: far enough for any real log, close enough that date arithmetic cannot overflow.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
DEFAULT_DAYS = 30
FETCH_CHUNK = 1000

# Final labels: the reviewer's correction where there is one, the prediction otherwise.
TOPIC = func.coalesce(corrections.c.topic, routed_tweets.c.topic)
URGENCY = func.coalesce(corrections.c.urgency, routed_tweets.c.urgency)
LANG = func.coalesce(corrections.c.lang, routed_tweets.c.lang)
_LABELLED = routed_tweets.outerjoin(corrections, corrections.c.tweet_id == routed_tweets.c.tweet_id)
_earlier = routed_tweets.alias("earlier")
# The first routing of its tweet id (a NULL id never matches, so id-less tweets each count once).
IS_FIRST = ~exists().where(_earlier.c.tweet_id == routed_tweets.c.tweet_id, _earlier.c.pk < routed_tweets.c.pk)


class QueryError(ValueError):
    """A query parameter the analytics cannot answer; ``field`` names it."""

    def __init__(self, field: str, msg: str, kind: str = "value_error"):
        self.field, self.msg, self.kind = field, msg, kind
        super().__init__(f"{field}: {msg}")


@dataclass(frozen=True)
class AnalyticsConfig:
    """What every query needs besides the engine: the taxonomy, the reporting zone, the SLA targets."""

    taxonomy: Taxonomy
    zone: ZoneInfo
    targets_hours: dict[str, float | None]

    @classmethod
    def from_settings(cls, settings: Settings, taxonomy: Taxonomy) -> AnalyticsConfig:
        return cls(taxonomy, ZoneInfo(settings.timezone), settings.sla_targets())

    def agency_of(self, topic_id: str | None) -> str | None:
        return self._agency_by_topic.get(topic_id)

    @cached_property
    def _agency_by_topic(self) -> dict[str | None, str | None]:
        return {t.id: t.agency.handle if t.agency else None for t in self.taxonomy.topics}

    @cached_property
    def agencies(self) -> list[str]:
        """Agency handles in taxonomy order, each once."""
        return list(dict.fromkeys(t.agency.handle for t in self.taxonomy.topics if t.agency))

    def topics_of(self, agency: str) -> list[str]:
        return [t.id for t in self.taxonomy.topics if t.agency and t.agency.handle == agency]

    @property
    def complaint_topics(self) -> list[str]:
        return [t for t in self.taxonomy.topic_ids if t != NOT_ROUTED_TOPIC]

    def local(self, value: datetime) -> datetime:
        return value.astimezone(self.zone)


@dataclass(frozen=True)
class TimeRange:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime


# --- ranges and periods -------------------------------------------------------------------------------


def _instant(value: date | datetime, zone: ZoneInfo, field: str, is_end: bool) -> datetime:
    if not EARLIEST.year <= value.year < LATEST.year:
        raise QueryError(field, f"must be between {EARLIEST.date()} and {LATEST.date()}", "out_of_range")
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=zone) if value.tzinfo is None else value
    else:  # a date: its local midnight; as the end, the whole day is included
        moment = datetime.combine(value + timedelta(days=1) if is_end else value, time(), zone)
    return moment.astimezone(UTC)


def resolve_range(
    start: date | datetime | None,
    end: date | datetime | None,
    cfg: AnalyticsConfig,
    now: datetime,
    default_days: int = DEFAULT_DAYS,
) -> TimeRange:
    """The UTC range for ``from``/``to`` parameters.

    Dates are local (WIB) days, ``to`` inclusive of its whole day; datetimes without an offset are local
    too; ``to`` defaults to now and ``from`` to ``default_days`` before ``to``.
    """
    end_utc = _instant(end, cfg.zone, "to", True) if end is not None else now.astimezone(UTC)
    start_utc = _instant(start, cfg.zone, "from", False) if start is not None else end_utc - timedelta(default_days)
    if end_utc <= start_utc:
        raise QueryError("to", f"must be after from ({cfg.local(start_utc).isoformat()})", "range")
    return TimeRange(start_utc, end_utc)


def month_range(month: str, cfg: AnalyticsConfig) -> TimeRange:
    """The local calendar month ``YYYY-MM`` as a UTC range (WIB month boundaries)."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError as exc:
        raise QueryError("month", f"{month!r} is not a month like 2026-11", "month") from exc
    return resolve_range(first, _next_period(first, "month") - timedelta(days=1), cfg, datetime.now(UTC))


def period_floor(moment: datetime, interval: str, zone: ZoneInfo) -> date:
    """The local date starting the period that contains ``moment``."""
    day = moment.astimezone(zone).date()
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _next_period(start: date, interval: str) -> date:
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def period_starts(rng: TimeRange, interval: str, zone: ZoneInfo) -> list[date]:
    """Local start dates of every period overlapping the range (at most :data:`MAX_PERIODS`)."""
    days = (rng.end - rng.start).total_seconds() / 86400
    estimate = {"day": days, "week": days / 7, "month": days / 28}[interval]
    if estimate > MAX_PERIODS + 2:
        raise QueryError(
            "interval", f"about {int(estimate)} {interval}s between from and to; at most {MAX_PERIODS}", "too_long"
        )
    out, current = [], period_floor(rng.start, interval, zone)
    while datetime.combine(current, time(), zone) < rng.end:
        out.append(current)
        current = _next_period(current, interval)
    return out


def _epoch_seconds(dialect: str, moment):
    """SQL for a stored time as seconds since 1970 (NULL stays NULL); parsed once per row on SQLite."""
    if dialect == "postgresql":
        return func.extract("epoch", moment)
    # SQLite's date functions keep milliseconds; julianday 2440587.5 is 1970-01-01T00:00Z.
    return (func.julianday(moment) - 2440587.5) * 86400.0


def _in_range(rng: TimeRange):
    return (literal(rng.start, UtcDateTime) <= TWEET_TIME) & (literal(rng.end, UtcDateTime) > TWEET_TIME)


def _group_sort_key(group_by: str, cfg: AnalyticsConfig):
    order = {
        "topic": cfg.taxonomy.topic_ids,
        "agency": cfg.agencies,
        "urgency": cfg.taxonomy.urgency_ids,
        "lang": cfg.taxonomy.lang_ids,
        "region": list(CANONICAL_REGIONS),
    }[group_by]
    rank = {g: i for i, g in enumerate(order)}
    return lambda g: (g is None, rank.get(g, len(rank)), str(g))


# --- volumes ------------------------------------------------------------------------------------------


def _counts(total: int, lainnya: int, groups: Counter, sort_key) -> dict[str, Any]:
    return {
        "total": total,
        "complaints": total - lainnya,
        "lainnya": lainnya,
        "lainnya_share": round(lainnya / total, 6) if total else None,
        "groups": [GroupCountPublic(group=g, count=n) for g, n in sorted(groups.items(), key=lambda x: sort_key(x[0]))],
    }


def complaint_counts(
    engine: Engine, cfg: AnalyticsConfig, rng: TimeRange, interval: str = "day", group_by: str = "topic"
) -> ComplaintStatsPublic:
    """Routed tweets per local period and group; ``lainnya`` counted apart from complaints.

    One small aggregate per period (a range scan of the tweet-time index each), with the period bounds
    computed in Python from the zone: no SQL date arithmetic, so any zone (DST included) works the same
    on SQLite and PostgreSQL, and the sorts stay per period (measured 1.6x faster than one GROUP BY
    period on a month of 1M-row log).
    """
    if interval not in INTERVALS:
        raise QueryError("interval", f"unknown interval {interval!r}; allowed: {', '.join(INTERVALS)}", "enum")
    if group_by not in COMPLAINT_GROUPS:
        raise QueryError("group_by", f"unknown group {group_by!r}; allowed: {', '.join(COMPLAINT_GROUPS)}", "enum")
    starts = period_starts(rng, interval, cfg.zone)
    key = {
        "topic": TOPIC,
        "agency": TOPIC,
        "region": routed_tweets.c.region,
        "urgency": URGENCY,
        "lang": LANG,
    }[group_by].label("grp")
    lainnya = case((TOPIC == NOT_ROUTED_TOPIC, 1), else_=0).label("is_lainnya")
    stmt = (
        select(lainnya, key, func.count().label("n"))
        .select_from(_LABELLED)
        .where(
            bindparam("lo", type_=UtcDateTime) <= TWEET_TIME, bindparam("hi", type_=UtcDateTime) > TWEET_TIME, IS_FIRST
        )
        .group_by(lainnya, key)
    )
    sort_key = _group_sort_key(group_by, cfg)
    periods, all_groups, total, total_lainnya = [], Counter(), 0, 0
    with engine.connect() as conn:
        for day in starts:
            start = datetime.combine(day, time(), cfg.zone)
            end = datetime.combine(_next_period(day, interval), time(), cfg.zone)
            # The first and last periods are clipped to the range.
            bounds = {"lo": max(start.astimezone(UTC), rng.start), "hi": min(end.astimezone(UTC), rng.end)}
            n_total, n_lainnya, groups = 0, 0, Counter()
            for is_lainnya, grp, n in conn.execute(stmt, bounds):
                n_total += n
                if is_lainnya:
                    n_lainnya += n
                else:
                    groups[cfg.agency_of(grp) if group_by == "agency" else grp] += n
            periods.append(PeriodCountsPublic(period_start=start, **_counts(n_total, n_lainnya, groups, sort_key)))
            all_groups.update(groups)
            total, total_lainnya = total + n_total, total_lainnya + n_lainnya
    return ComplaintStatsPublic(
        start=cfg.local(rng.start),
        end=cfg.local(rng.end),
        interval=interval,
        group_by=group_by,
        timezone=cfg.zone.key,
        totals=CountsPublic(**_counts(total, total_lainnya, all_groups, sort_key)),
        periods=periods,
    )


# --- response times -----------------------------------------------------------------------------------


@dataclass
class ResponseRows:
    """One entry per complaint with a tweet id in the range (first routing, final labels).

    Labels are held as integer codes into small tables of ids, so grouping 100k rows is integer
    comparisons rather than string ones.
    """

    topic_codes: np.ndarray
    topics: list[str]
    urgency_codes: np.ndarray
    urgencies: list[str]
    seconds: np.ndarray  # to the first reply; NaN when unanswered
    age_seconds: np.ndarray  # from the tweet to ``as_of``

    def __len__(self) -> int:
        return len(self.seconds)

    def groups(self, group_by: str, cfg: AnalyticsConfig) -> list[tuple[str, np.ndarray]]:
        """``(group id, row mask)`` per group present, in the dimension's taxonomy order."""
        if group_by == "urgency":
            codes, names = self.urgency_codes, self.urgencies
        elif group_by == "topic":
            codes, names = self.topic_codes, self.topics
        else:  # agency: several topics may share one
            agencies = [cfg.agency_of(t) or "" for t in self.topics]
            names = list(dict.fromkeys(agencies))
            codes = np.array([names.index(a) for a in agencies], dtype=np.int64)[self.topic_codes]
        order = sorted(range(len(names)), key=lambda i: _group_sort_key(group_by, cfg)(names[i]))
        return [(names[i], codes == i) for i in order]

    def targets_hours(self, cfg: AnalyticsConfig) -> np.ndarray:
        """Each row's target in hours (NaN where its urgency has none)."""
        per_code = [cfg.targets_hours.get(u) for u in self.urgencies]
        table = np.array([np.nan if h is None else float(h) for h in per_code], dtype=float)
        return table[self.urgency_codes] if len(self) else np.array([], dtype=float)


def response_rows(engine: Engine, cfg: AnalyticsConfig, rng: TimeRange, as_of: datetime) -> ResponseRows:
    """Time to first reply and age of every complaint in the range (the basis of every response figure)."""
    dialect = engine.dialect.name
    first_reply = (
        select(func.min(replies.c.replied_at)).where(replies.c.tweet_id == routed_tweets.c.tweet_id).scalar_subquery()
    )
    # Each time is converted to a number once in SQL; the differences are taken in numpy. The cheap
    # filters come first so the first-routing probe runs only for the rows that pass them.
    stmt = (
        select(TOPIC, URGENCY, _epoch_seconds(dialect, TWEET_TIME), _epoch_seconds(dialect, first_reply))
        .select_from(_LABELLED)
        .where(_in_range(rng), routed_tweets.c.tweet_id.is_not(None), TOPIC != NOT_ROUTED_TOPIC, IS_FIRST)
    )
    topics: dict[str, int] = {}
    urgencies: dict[str, int] = {}
    parts: list[tuple[np.ndarray, ...]] = []
    with engine.connect() as conn:
        # Converted chunk by chunk: the per-row Python objects die young instead of piling up until a full
        # garbage collection walks the whole process (measured: ~2x the latency on a month of a 1M-row log).
        for chunk in conn.execute(stmt).partitions(FETCH_CHUNK):
            topic, urgency, tweet_s, reply_s = zip(*chunk, strict=True)
            parts.append(
                (
                    np.array([topics.setdefault(t, len(topics)) for t in topic], dtype=np.int64),
                    np.array([urgencies.setdefault(u, len(urgencies)) for u in urgency], dtype=np.int64),
                    np.array(tweet_s, dtype=float),
                    np.array(reply_s, dtype=float),  # None (no reply) becomes NaN
                )
            )
    if not parts:
        none = np.array([], dtype=np.int64)
        return ResponseRows(none, [], none, [], np.array([], dtype=float), np.array([], dtype=float))
    topic_codes, urgency_codes, tweet_s, reply_s = (np.concatenate(column) for column in zip(*parts, strict=True))
    # Rounded to milliseconds (the stores' resolution) so float noise cannot flip a reply made exactly at
    # its target.
    seconds = np.round(reply_s - tweet_s, 3)
    ages = np.round(as_of.timestamp() - tweet_s, 3)
    return ResponseRows(topic_codes, list(topics), urgency_codes, list(urgencies), seconds, ages)


def _response_group(name: str, seconds: np.ndarray, ages: np.ndarray, targets: np.ndarray) -> ResponseTimeGroupPublic:
    answered = ~np.isnan(seconds)
    hours = seconds[answered] / 3600.0
    median, p90 = np.percentile(hours, [50, 90]).tolist() if hours.size else (None, None)
    has_target = ~np.isnan(targets)
    limit = targets * 3600.0
    with np.errstate(invalid="ignore"):
        met = has_target & answered & (seconds <= limit)
        missed = has_target & ((answered & (seconds > limit)) | (~answered & (ages > limit)))
        pending = has_target & ~answered & (ages <= limit)
    n_met, n_missed = int(met.sum()), int(missed.sum())
    return ResponseTimeGroupPublic(
        group=name,
        complaints=int(seconds.size),
        answered=int(answered.sum()),
        unanswered=int((~answered).sum()),
        median_hours=round(median, 4) if median is not None else None,
        p90_hours=round(p90, 4) if p90 is not None else None,
        sla_met=n_met,
        sla_missed=n_missed,
        sla_pending=int(pending.sum()),
        within_target_share=round(n_met / (n_met + n_missed), 6) if n_met + n_missed else None,
    )


def response_times(
    engine: Engine, cfg: AnalyticsConfig, rng: TimeRange, as_of: datetime, group_by: str = "agency"
) -> ResponseTimesPublic:
    """Median and 90th percentile time to the first reply, SLA share and unanswered count per group."""
    if group_by not in RESPONSE_GROUPS:
        raise QueryError("group_by", f"unknown group {group_by!r}; allowed: {', '.join(RESPONSE_GROUPS)}", "enum")
    rows = response_rows(engine, cfg, rng, as_of)
    targets = rows.targets_hours(cfg)
    groups = [
        _response_group(name, rows.seconds[mask], rows.age_seconds[mask], targets[mask])
        for name, mask in rows.groups(group_by, cfg)
    ]
    return ResponseTimesPublic(
        start=cfg.local(rng.start),
        end=cfg.local(rng.end),
        group_by=group_by,
        timezone=cfg.zone.key,
        as_of=cfg.local(as_of),
        targets_hours=dict(cfg.targets_hours),
        overall=_response_group("all", rows.seconds, rows.age_seconds, targets),
        groups=groups,
    )


def response_hours(
    engine: Engine, cfg: AnalyticsConfig, rng: TimeRange, as_of: datetime, group_by: str = "agency"
) -> dict[str, np.ndarray]:
    """Hours to the first reply per group (answered complaints only), for distribution plots."""
    rows = response_rows(engine, cfg, rng, as_of)
    out = {}
    for name, mask in rows.groups(group_by, cfg):
        values = rows.seconds[mask]
        out[name] = values[~np.isnan(values)] / 3600.0
    return out


# --- backlog ------------------------------------------------------------------------------------------


def _overdue(urgency: str, due_before: datetime, limit: int, topic: str, corrected: bool):
    """Overdue unanswered first routings of one topic and urgency, oldest first, at most ``limit``.

    Final labels come from two sources: tweets without a correction whose prediction matches (read
    through ``ix_routed_labels_time`` from the oldest end) and tweets whose correction matches (through
    ``ix_corrections_labels``). Reading per topic and urgency keeps the cost to the rows of that label
    rather than the whole log's, however few of them are overdue.
    """
    if corrected:
        labels = (corrections.c.topic == topic, corrections.c.urgency == urgency)
    else:  # no correction: the prediction is final
        labels = (routed_tweets.c.topic == topic, routed_tweets.c.urgency == urgency, corrections.c.tweet_id.is_(None))
    return (
        select(
            routed_tweets.c.tweet_id,
            routed_tweets.c.text,
            TOPIC.label("topic"),
            routed_tweets.c.region,
            TWEET_TIME.label("tweet_time"),
            routed_tweets.c.pk,
        )
        .select_from(_LABELLED)
        .where(
            *labels,
            literal(due_before, UtcDateTime) > TWEET_TIME,
            routed_tweets.c.tweet_id.is_not(None),
            IS_FIRST,
            ~exists().where(replies.c.tweet_id == routed_tweets.c.tweet_id),
        )
        .order_by(TWEET_TIME, routed_tweets.c.pk)
        .limit(limit)
    )


def backlog(
    engine: Engine, cfg: AnalyticsConfig, as_of: datetime, agency: str | None = None, limit: int = 100
) -> BacklogPublic:
    """Unanswered complaints past their target: most urgent first, then oldest first.

    Per urgency level with a target, and per topic, queries read a label index from the oldest end and
    stop at ``limit`` (see :func:`_overdue`).
    """
    if agency is not None and agency not in cfg.agencies:
        raise QueryError("agency", f"unknown agency {agency!r}; allowed: {', '.join(cfg.agencies)}", "unknown_agency")
    if limit < 1:
        raise QueryError("limit", "must be at least 1", "greater_than_equal")
    topics = cfg.topics_of(agency) if agency else cfg.complaint_topics
    found: list[tuple[Any, str, float]] = []
    with engine.connect() as conn:
        for urgency in cfg.taxonomy.urgency_ids:  # most urgent first
            target = cfg.targets_hours.get(urgency)
            if target is None or len(found) > limit:
                continue
            due_before, wanted = as_of - timedelta(hours=target), limit + 1 - len(found)
            rows = [
                row
                for topic in topics
                for corrected in (False, True)
                for row in conn.execute(_overdue(urgency, due_before, wanted, topic, corrected))
            ]
            # Each topic's list is oldest first; merged, the oldest ``wanted`` of them all.
            found.extend((row, urgency, target) for row in sorted(rows, key=lambda r: (r.tweet_time, r.pk))[:wanted])
    items = []
    for row, urgency, target in found[:limit]:
        tweet_time = row.tweet_time.astimezone(UTC)
        due = tweet_time + timedelta(hours=target)
        items.append(
            BacklogItemPublic(
                tweet_id=row.tweet_id,
                text=row.text,
                topic=row.topic,
                urgency=urgency,
                agency_handle=cfg.agency_of(row.topic),
                region=row.region,
                tweet_time=cfg.local(tweet_time),
                target_hours=target,
                due_at=cfg.local(due),
                hours_overdue=round((as_of - due).total_seconds() / 3600.0, 4),
            )
        )
    return BacklogPublic(
        as_of=cfg.local(as_of),
        agency=agency,
        limit=limit,
        count=len(items),
        has_more=len(found) > limit,
        items=items,
    )


# --- report helpers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComplaintText:
    tweet_id: str | None
    text: str
    topic: str
    region: str | None


def complaint_texts(engine: Engine, rng: TimeRange) -> list[ComplaintText]:
    """Every complaint in the range with its final topic (the recurring-issue clustering's input)."""
    stmt = (
        select(routed_tweets.c.tweet_id, routed_tweets.c.text, TOPIC, routed_tweets.c.region)
        .select_from(_LABELLED)
        .where(_in_range(rng), IS_FIRST, TOPIC != NOT_ROUTED_TOPIC)
        .order_by(TWEET_TIME, routed_tweets.c.pk)
    )
    with engine.connect() as conn:
        return [ComplaintText(*row) for row in conn.execute(stmt)]


def latest_tweet_time(engine: Engine) -> datetime | None:
    """The newest tweet time in the log (the notebook's default month), or None when the log is empty."""
    with engine.connect() as conn:
        value = conn.execute(select(func.max(TWEET_TIME))).scalar()
    return value.astimezone(UTC) if value is not None else None


def group_counts(stats: ComplaintStatsPublic) -> dict[str | None, int]:
    """``{group: count}`` over the whole range (a convenience for tables and plots)."""
    return {g.group: g.count for g in stats.totals.groups}
