"""Complaint analytics as pure functions over an :class:`~sqlalchemy.Engine` (API, report and notebook use them).

Conventions, applied by every function here:

* Every query reads the ``tweet_facts`` projection (:mod:`serving.analytics.facts`), one row per tweet:
  a tweet id routed more than once counts once, with its first routing (lowest ``pk``); its time is
  ``created_at`` when the client sent it, else ``received_at``; its labels are the reviewer's correction
  where one exists, the prediction otherwise; the agency follows the final topic, so a corrected topic
  moves the tweet. Times are compared as integer milliseconds (range bounds are floored to the millisecond).
* ``lainnya`` is not a complaint: volumes report it separately; response times and the backlog skip it.
* Ranges are ``[start, end)`` instants; periods start at local midnight in the reporting zone (WIB by
  default): the day, the Monday, the 1st of the month.
* Volumes are counted in SQL. Response times fetch one row per answered complaint (time to first reply)
  and take percentiles in numpy (not portable SQL); unanswered complaints are counted in SQL, split by
  whether their target has passed.
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
from sqlalchemy import Engine, Integer, bindparam, case, cast, func, select

from serving.analytics.facts import epoch_ms, from_epoch_ms
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
from serving.analytics.tables import tweet_facts
from serving.store import routed_tweets
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

F = tweet_facts.c
# Each tweet's text lives on its first routing in the log.
_WITH_TEXT = tweet_facts.join(routed_tweets, routed_tweets.c.pk == F.pk)


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


def _in_range(rng: TimeRange):
    return (F.tweet_ms >= epoch_ms(rng.start)) & (F.tweet_ms < epoch_ms(rng.end))


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

    One small aggregate per period, with the period bounds computed in Python from the zone: no SQL date
    arithmetic, so any zone (DST included) works the same on SQLite and PostgreSQL. Each aggregate groups
    by the dimension alone and counts ``lainnya`` inside the group, so SQLite reads the dimension's
    ``(dimension, tweet_ms, complaint)`` index in group order (a skip-scan) and never sorts the range.
    """
    if interval not in INTERVALS:
        raise QueryError("interval", f"unknown interval {interval!r}; allowed: {', '.join(INTERVALS)}", "enum")
    if group_by not in COMPLAINT_GROUPS:
        raise QueryError("group_by", f"unknown group {group_by!r}; allowed: {', '.join(COMPLAINT_GROUPS)}", "enum")
    starts = period_starts(rng, interval, cfg.zone)
    key = {"topic": F.topic, "agency": F.topic, "region": F.region, "urgency": F.urgency, "lang": F.lang}[group_by]
    lainnya = func.count() - func.sum(cast(F.complaint, Integer))
    stmt = (
        select(key, func.count(), lainnya)
        .where(F.tweet_ms >= bindparam("lo"), F.tweet_ms < bindparam("hi"))
        .group_by(key)
    )
    sort_key = _group_sort_key(group_by, cfg)
    periods, all_groups, total, total_lainnya = [], Counter(), 0, 0
    with engine.connect() as conn:
        for day in starts:
            start = datetime.combine(day, time(), cfg.zone)
            end = datetime.combine(_next_period(day, interval), time(), cfg.zone)
            # The first and last periods are clipped to the range.
            lo, hi = max(start.astimezone(UTC), rng.start), min(end.astimezone(UTC), rng.end)
            n_total, n_lainnya, groups = 0, 0, Counter()
            for grp, n, lainnya in conn.execute(stmt, {"lo": epoch_ms(lo), "hi": epoch_ms(hi)}):
                n_total, n_lainnya = n_total + n, n_lainnya + lainnya
                if n > lainnya:
                    groups[cfg.agency_of(grp) if group_by == "agency" else grp] += n - lainnya
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
    """The complaints with a tweet id in a range (first routing, final labels), ready to aggregate.

    Answered complaints come one entry each (their time to first reply: percentiles need every value);
    unanswered ones come counted per (topic, urgency), split by whether their target has passed, which is
    all the SLA figures need of them. Labels are integer codes into small tables of ids, so grouping is
    integer comparisons rather than string ones.
    """

    topics: list[str]
    urgencies: list[str]
    topic_codes: np.ndarray  # answered complaints, one entry each
    urgency_codes: np.ndarray
    seconds: np.ndarray  # to the first reply
    open_topic_codes: np.ndarray  # unanswered complaints, one entry per (topic, urgency)
    open_urgency_codes: np.ndarray
    open_count: np.ndarray
    open_overdue: np.ndarray  # of open_count: past the urgency's target (0 where it has none)

    def groups(self, group_by: str, cfg: AnalyticsConfig) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """``(group id, answered mask, unanswered mask)`` per group present, in taxonomy order."""
        if group_by == "urgency":
            names, answered, unanswered = self.urgencies, self.urgency_codes, self.open_urgency_codes
        else:
            names, answered, unanswered = self.topics, self.topic_codes, self.open_topic_codes
            if group_by == "agency":  # several topics may share one
                agencies = [cfg.agency_of(t) or "" for t in self.topics]
                names = list(dict.fromkeys(agencies))
                to_agency = np.array([names.index(a) for a in agencies], dtype=np.int64)
                answered, unanswered = to_agency[answered], to_agency[unanswered]
        order = sorted(range(len(names)), key=lambda i: _group_sort_key(group_by, cfg)(names[i]))
        present = set(answered.tolist()) | set(unanswered.tolist())
        return [(names[i], answered == i, unanswered == i) for i in order if i in present]

    def targets_seconds(self, cfg: AnalyticsConfig, urgency_codes: np.ndarray) -> np.ndarray:
        """The target of each entry's urgency in seconds (NaN where it has none)."""
        hours = [cfg.targets_hours.get(u) for u in self.urgencies]
        table = np.array([np.nan if h is None else float(h) * 3600.0 for h in hours], dtype=float)
        return table[urgency_codes] if urgency_codes.size else np.array([], dtype=float)


def _code(values: list[str], table: dict[str, int]) -> np.ndarray:
    return np.array([table.setdefault(v, len(table)) for v in values], dtype=np.int64)


def response_rows(engine: Engine, cfg: AnalyticsConfig, rng: TimeRange, as_of: datetime) -> ResponseRows:
    """The basis of every response figure: answered complaints' reply times, unanswered ones counted.

    Complaints without a tweet id are left out: no reply can ever name them. An unanswered complaint is
    overdue when it is older than its urgency's target at ``as_of``.
    """
    complaints = (_in_range(rng), F.tweet_id.is_not(None), F.topic != NOT_ROUTED_TOPIC)
    answered = select(F.topic, F.urgency, F.first_reply_ms - F.tweet_ms).where(
        *complaints, F.first_reply_ms.is_not(None)
    )
    now_ms = epoch_ms(as_of)
    # The newest tweet time that is overdue, per urgency with a target (NULL for the others: never overdue).
    cutoffs = {u: now_ms - round(h * 3_600_000) for u, h in cfg.targets_hours.items() if h is not None}
    cutoff = case(*((F.urgency == u, c) for u, c in cutoffs.items()), else_=None) if cutoffs else None
    overdue = func.sum(case((F.tweet_ms < cutoff, 1), else_=0)) if cutoff is not None else func.sum(0)
    unanswered = (
        select(F.topic, F.urgency, func.count(), overdue)
        .where(*complaints, F.first_reply_ms.is_(None))
        .group_by(F.topic, F.urgency)
    )
    topics: dict[str, int] = {}
    urgencies: dict[str, int] = {}
    parts: list[tuple[np.ndarray, ...]] = []
    with engine.connect() as conn:
        # Converted chunk by chunk: the per-row Python objects die young instead of piling up until a full
        # garbage collection walks the whole process (measured: ~2x the latency on a month of a 1M-row log).
        for chunk in conn.execute(answered).partitions(FETCH_CHUNK):
            topic, urgency, delay_ms = zip(*chunk, strict=True)
            parts.append((_code(topic, topics), _code(urgency, urgencies), np.array(delay_ms, dtype=float) / 1000))
        open_rows = conn.execute(unanswered).all()
    if parts:
        topic_codes, urgency_codes, seconds = (np.concatenate(column) for column in zip(*parts, strict=True))
    else:
        topic_codes, urgency_codes, seconds = np.array([], dtype=np.int64), np.array([], dtype=np.int64), np.array([])
    # Coded before the tables are copied below: a label may appear only among the unanswered.
    open_topic_codes = _code([r[0] for r in open_rows], topics)
    open_urgency_codes = _code([r[1] for r in open_rows], urgencies)
    return ResponseRows(
        topics=list(topics),
        urgencies=list(urgencies),
        topic_codes=topic_codes,
        urgency_codes=urgency_codes,
        seconds=seconds,
        open_topic_codes=open_topic_codes,
        open_urgency_codes=open_urgency_codes,
        open_count=np.array([r[2] for r in open_rows], dtype=np.int64),
        open_overdue=np.array([r[3] or 0 for r in open_rows], dtype=np.int64),
    )


def _response_group(
    name: str, rows: ResponseRows, cfg: AnalyticsConfig, answered: np.ndarray, unanswered: np.ndarray
) -> ResponseTimeGroupPublic:
    """The figures of one group: ``answered``/``unanswered`` select its entries in ``rows``."""
    seconds = rows.seconds[answered]
    hours = seconds / 3600.0
    median, p90 = np.percentile(hours, [50, 90]).tolist() if hours.size else (None, None)
    limit = rows.targets_seconds(cfg, rows.urgency_codes[answered])
    with np.errstate(invalid="ignore"):  # NaN limit: no target, neither met nor missed
        n_met, n_late = int((seconds <= limit).sum()), int((seconds > limit).sum())
    open_count, open_overdue = rows.open_count[unanswered], rows.open_overdue[unanswered]
    has_target = ~np.isnan(rows.targets_seconds(cfg, rows.open_urgency_codes[unanswered]))
    n_overdue = int(open_overdue.sum())
    n_missed = n_late + n_overdue
    n_unanswered = int(open_count.sum())
    return ResponseTimeGroupPublic(
        group=name,
        complaints=int(seconds.size) + n_unanswered,
        answered=int(seconds.size),
        unanswered=n_unanswered,
        median_hours=round(median, 4) if median is not None else None,
        p90_hours=round(p90, 4) if p90 is not None else None,
        sla_met=n_met,
        sla_missed=n_missed,
        sla_pending=int(open_count[has_target].sum()) - n_overdue,
        within_target_share=round(n_met / (n_met + n_missed), 6) if n_met + n_missed else None,
    )


def response_times(
    engine: Engine, cfg: AnalyticsConfig, rng: TimeRange, as_of: datetime, group_by: str = "agency"
) -> ResponseTimesPublic:
    """Median and 90th percentile time to the first reply, SLA share and unanswered count per group."""
    if group_by not in RESPONSE_GROUPS:
        raise QueryError("group_by", f"unknown group {group_by!r}; allowed: {', '.join(RESPONSE_GROUPS)}", "enum")
    rows = response_rows(engine, cfg, rng, as_of)
    everything = (np.ones(rows.seconds.size, dtype=bool), np.ones(rows.open_count.size, dtype=bool))
    return ResponseTimesPublic(
        start=cfg.local(rng.start),
        end=cfg.local(rng.end),
        group_by=group_by,
        timezone=cfg.zone.key,
        as_of=cfg.local(as_of),
        targets_hours=dict(cfg.targets_hours),
        overall=_response_group("all", rows, cfg, *everything),
        groups=[_response_group(name, rows, cfg, a, u) for name, a, u in rows.groups(group_by, cfg)],
    )


def response_hours(
    engine: Engine, cfg: AnalyticsConfig, rng: TimeRange, as_of: datetime, group_by: str = "agency"
) -> dict[str, np.ndarray]:
    """Hours to the first reply per group (answered complaints only), for distribution plots."""
    rows = response_rows(engine, cfg, rng, as_of)
    return {name: rows.seconds[answered] / 3600.0 for name, answered, _ in rows.groups(group_by, cfg)}


# --- backlog ------------------------------------------------------------------------------------------


def _overdue(urgency: str, due_before: datetime, limit: int, topic: str):
    """Overdue unanswered complaints of one topic and urgency, oldest first, at most ``limit``.

    Read from the front of the partial index on unanswered tweets (``ix_facts_open``), so the cost is the
    rows returned, not the rows of the label, however few of them are overdue.
    """
    return (
        select(F.tweet_id, routed_tweets.c.text, F.topic, F.region, F.tweet_ms, F.pk)
        .select_from(_WITH_TEXT)
        .where(
            F.topic == topic,
            F.urgency == urgency,
            F.tweet_ms < epoch_ms(due_before),
            F.first_reply_ms.is_(None),
            F.tweet_id.is_not(None),
        )
        .order_by(F.tweet_ms, F.pk)
        .limit(limit)
    )


def backlog(
    engine: Engine, cfg: AnalyticsConfig, as_of: datetime, agency: str | None = None, limit: int = 100
) -> BacklogPublic:
    """Unanswered complaints past their target: most urgent first, then oldest first.

    Per urgency level with a target, and per topic, queries read the unanswered tweets from the oldest
    end and stop at ``limit`` (see :func:`_overdue`).
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
            rows = [row for topic in topics for row in conn.execute(_overdue(urgency, due_before, wanted, topic))]
            # Each topic's list is oldest first; merged, the oldest ``wanted`` of them all.
            found.extend((row, urgency, target) for row in sorted(rows, key=lambda r: (r.tweet_ms, r.pk))[:wanted])
    items = []
    for row, urgency, target in found[:limit]:
        tweet_time = from_epoch_ms(row.tweet_ms)
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
        select(F.tweet_id, routed_tweets.c.text, F.topic, F.region)
        .select_from(_WITH_TEXT)
        .where(_in_range(rng), F.topic != NOT_ROUTED_TOPIC)
        .order_by(F.tweet_ms, F.pk)
    )
    with engine.connect() as conn:
        return [ComplaintText(*row) for row in conn.execute(stmt)]


def latest_tweet_time(engine: Engine) -> datetime | None:
    """The newest tweet time in the log (the notebook's default month), or None when the log is empty."""
    with engine.connect() as conn:
        value = conn.execute(select(func.max(F.tweet_ms))).scalar()
    return from_epoch_ms(value) if value is not None else None


def group_counts(stats: ComplaintStatsPublic) -> dict[str | None, int]:
    """``{group: count}`` over the whole range (a convenience for tables and plots)."""
    return {g.group: g.count for g in stats.totals.groups}
