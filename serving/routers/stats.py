"""GET /v1/stats/*: complaint volumes, response times and the overdue backlog (from the prediction log)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from serving.analytics import queries
from serving.analytics.queries import AnalyticsConfig, QueryError, TimeRange
from serving.analytics.schemas import (
    BacklogPublic,
    ComplaintGroup,
    ComplaintStatsPublic,
    Interval,
    ResponseGroup,
    ResponseTimesPublic,
)
from serving.deps import AnalyticsDep, LogDep, NowDep
from serving.errors import InputError, Problem


def _fresh_planner_statistics(request: Request) -> None:
    """Refresh SQLite's statistics on the facts when due (see PlannerStatistics), before the query plans."""
    request.app.state.planner_stats.refresh_if_due()


router = APIRouter(prefix="/v1/stats", tags=["analytics"], dependencies=[Depends(_fresh_planner_statistics)])

# A date, or an ISO 8601 time with an optional offset; stated in the schema so clients can check first.
TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$"
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

From = Annotated[
    str | None,
    Query(
        alias="from",
        pattern=TIME_PATTERN,
        description="Start (inclusive): a date (local midnight, WIB) or an ISO 8601 time; without an offset it "
        "is local time. Default: 30 days before `to`.",
        examples=["2026-11-01"],
    ),
]
To = Annotated[
    str | None,
    Query(
        alias="to",
        pattern=TIME_PATTERN,
        description="End: a date includes that whole local day; an ISO 8601 time is exclusive. Default: now.",
        examples=["2026-11-30"],
    ),
]


@contextmanager
def _query_errors_as_4xx() -> Iterator[None]:
    """A :class:`QueryError` (a parameter the analytics cannot answer) becomes a 422 naming the field."""
    try:
        yield
    except QueryError as exc:
        raise InputError([Problem(exc.field, exc.msg, exc.kind, "query")]) from exc


def _parse(value: str | None, field: str) -> date | datetime | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value) if _DATE_ONLY.match(value) else datetime.fromisoformat(value)
    except ValueError as exc:
        raise QueryError(field, f"{value!r} is not a valid date or time: {exc}", "datetime_parsing") from exc


def _range(start: str | None, end: str | None, cfg: AnalyticsConfig, now: datetime) -> TimeRange:
    problems = []
    parsed = {}
    for field, value in (("from", start), ("to", end)):
        try:
            parsed[field] = _parse(value, field)
        except QueryError as exc:
            problems.append(Problem(exc.field, exc.msg, exc.kind, "query"))
    if problems:
        raise InputError(problems)
    with _query_errors_as_4xx():
        return queries.resolve_range(parsed["from"], parsed["to"], cfg, now)


@router.get("/complaints", response_model=ComplaintStatsPublic, summary="Complaint volumes per period and group")
def complaints(
    log: LogDep,
    analytics: AnalyticsDep,
    now: NowDep,
    start: From = None,
    end: To = None,
    interval: Annotated[Interval, Query(description="Period length; periods start at local midnight.")] = "day",
    group_by: Annotated[ComplaintGroup, Query(description="Split complaints by this.")] = "topic",
) -> ComplaintStatsPublic:
    """Routed tweets per day, week (from Monday) or month in WIB, with complaints split by ``group_by``.

    Corrected labels replace predictions; a tweet routed twice counts once. ``lainnya`` (not a complaint)
    is reported apart: ``total = complaints + lainnya`` and ``lainnya_share = lainnya / total``.
    """
    rng = _range(start, end, analytics, now)
    with _query_errors_as_4xx():
        return queries.complaint_counts(log.engine, analytics, rng, interval, group_by)


@router.get("/response-times", response_model=ResponseTimesPublic, summary="Time to first reply and SLA share")
def response_times(
    log: LogDep,
    analytics: AnalyticsDep,
    now: NowDep,
    start: From = None,
    end: To = None,
    group_by: Annotated[ResponseGroup, Query(description="Split complaints by this.")] = "agency",
) -> ResponseTimesPublic:
    """For complaints posted in the range: median and 90th percentile hours to the first reply, the share
    answered within the urgency's target (urgencies without one are excluded; unanswered tweets still
    within their target are pending, not counted), and how many are unanswered.
    """
    rng = _range(start, end, analytics, now)
    with _query_errors_as_4xx():
        return queries.response_times(log.engine, analytics, rng, now, group_by)


@router.get("/backlog", response_model=BacklogPublic, summary="Unanswered complaints past their target")
def backlog(
    log: LogDep,
    analytics: AnalyticsDep,
    now: NowDep,
    agency: Annotated[str | None, Query(description="Only this agency's handle, e.g. @bpbdjateng.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many items.")] = 100,
) -> BacklogPublic:
    """Unanswered complaints whose target has passed: most urgent first, then oldest first."""
    with _query_errors_as_4xx():
        return queries.backlog(log.engine, analytics, now, agency, limit)
