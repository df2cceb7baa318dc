"""The monthly complaint report: one self-contained HTML file (figures embedded as base64 PNGs).

``collect_monthly`` gathers every number from :mod:`serving.analytics.queries` (the notebook shows the
same object); ``render_html`` lays it out; ``build_monthly_report`` does both and writes the file.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine

from serving.analytics import plots, queries
from serving.analytics.clusters import DEFAULT_THRESHOLD, Embed, TopicIssues, default_embed, recurring_issues
from serving.analytics.queries import AnalyticsConfig, TimeRange
from serving.analytics.schemas import ComplaintStatsPublic, ResponseTimesPublic

logger = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass
class MonthlyReport:
    """Everything the monthly report shows."""

    month: str
    range: TimeRange
    as_of: datetime
    timezone: str
    topics: ComplaintStatsPublic
    agencies: ComplaintStatsPublic
    regions: ComplaintStatsPublic
    trend: ComplaintStatsPublic
    response_by_agency: ResponseTimesPublic
    response_by_urgency: ResponseTimesPublic
    hours_by_agency: dict[str, np.ndarray]
    issues: list[TopicIssues]
    agency_names: dict[str, str]
    topic_names: dict[str, str]
    targets_hours: dict[str, float | None]
    cluster_cap: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def complaints(self) -> int:
        return self.topics.totals.complaints

    @property
    def without_region(self) -> int:
        return queries.group_counts(self.regions).get(None, 0)

    def trend_rows(self) -> list[tuple[datetime, int, int]]:
        return [(p.period_start, p.complaints, p.lainnya) for p in self.trend.periods]


def previous_months_range(month: str, cfg: AnalyticsConfig, months: int = 12) -> TimeRange:
    """``months`` local calendar months ending with ``month`` (inclusive)."""
    this = queries.month_range(month, cfg)
    first = datetime.strptime(month, "%Y-%m")
    year, index = divmod(first.year * 12 + first.month - 1 - (months - 1), 12)
    start = queries.month_range(f"{year:04d}-{index + 1:02d}", cfg).start
    return TimeRange(start, this.end)


def collect_monthly(
    engine: Engine,
    cfg: AnalyticsConfig,
    month: str,
    embed: Embed | None = None,
    as_of: datetime | None = None,
    cluster_cap: int = 2000,
    threshold: float = DEFAULT_THRESHOLD,
) -> MonthlyReport:
    """All the month's figures (WIB month boundaries); ``embed`` defaults to multilingual-e5-small."""
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    rng = queries.month_range(month, cfg)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    topics = queries.complaint_counts(engine, cfg, rng, "month", "topic")
    agencies = queries.complaint_counts(engine, cfg, rng, "month", "agency")
    regions = queries.complaint_counts(engine, cfg, rng, "month", "region")
    trend = queries.complaint_counts(engine, cfg, previous_months_range(month, cfg), "month", "topic")
    by_agency = queries.response_times(engine, cfg, rng, as_of, "agency")
    by_urgency = queries.response_times(engine, cfg, rng, as_of, "urgency")
    hours = queries.response_hours(engine, cfg, rng, as_of, "agency")
    seconds["queries"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    texts = queries.complaint_texts(engine, rng)
    seconds["texts"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if texts and embed is None:
        embed = default_embed()  # loaded only when there is something to cluster
    issues = recurring_issues(texts, embed, cfg.complaint_topics, threshold, cluster_cap) if texts else []
    seconds["clustering"] = time.perf_counter() - t0
    return MonthlyReport(
        month=month,
        range=rng,
        as_of=as_of,
        timezone=cfg.zone.key,
        topics=topics,
        agencies=agencies,
        regions=regions,
        trend=trend,
        response_by_agency=by_agency,
        response_by_urgency=by_urgency,
        hours_by_agency=hours,
        issues=issues,
        agency_names={t.agency.handle: t.agency.name for t in cfg.taxonomy.topics if t.agency},
        topic_names={t.id: t.name for t in cfg.taxonomy.topics},
        targets_hours=dict(cfg.targets_hours),
        cluster_cap=cluster_cap,
        seconds=seconds,
    )


def figures(report: MonthlyReport) -> dict[str, object]:
    """The report's figures (matplotlib ``Figure``), keyed by section."""
    targets = {u: h for u, h in report.targets_hours.items() if h is not None}
    return {
        "topics": plots.bar_chart(queries.group_counts(report.topics), "Complaints by topic"),
        "agencies": plots.bar_chart(queries.group_counts(report.agencies), "Complaints by agency"),
        "regions": plots.bar_chart(
            {k: v for k, v in queries.group_counts(report.regions).items() if k is not None},
            "Complaints naming a region (top 20)",
            top=20,
        ),
        "trend": plots.trend_chart(report.trend_rows(), "Routed tweets per month, last 12 months"),
        "response": plots.response_boxplot(report.hours_by_agency, "Time to first reply by agency", targets),
    }


def tables(report: MonthlyReport) -> dict[str, pd.DataFrame]:
    """The report's tables as DataFrames (the notebook shows these)."""
    complaints = report.topics.totals.complaints

    def sla(rows: list) -> pd.DataFrame:
        return pd.DataFrame([g.model_dump() for g in rows])

    return {
        "summary": pd.DataFrame(
            [report.topics.totals.model_dump(exclude={"groups"}) | report.response_by_agency.overall.model_dump()]
        ).drop(columns=["group"]),
        "topics": pd.DataFrame(
            [
                {
                    "topic": g.group,
                    "name": report.topic_names.get(g.group, g.group),
                    "complaints": g.count,
                    "share": g.count / complaints,
                }
                for g in report.topics.totals.groups
            ]
        ),
        "agencies": pd.DataFrame(
            [
                {"agency": g.group, "name": report.agency_names.get(g.group, ""), "complaints": g.count}
                for g in report.agencies.totals.groups
            ]
        ),
        "regions": pd.DataFrame([{"region": g.group, "complaints": g.count} for g in report.regions.totals.groups]),
        "trend": pd.DataFrame(
            [
                {
                    "month": p.period_start.strftime("%Y-%m"),
                    "complaints": p.complaints,
                    "lainnya": p.lainnya,
                    "lainnya_share": p.lainnya_share,
                }
                for p in report.trend.periods
            ]
        ),
        "sla_by_agency": sla([*report.response_by_agency.groups, report.response_by_agency.overall]),
        "sla_by_urgency": sla(report.response_by_urgency.groups),
        "recurring_issues": pd.DataFrame(
            [
                {
                    "topic": t.topic,
                    "complaints": t.complaints,
                    "clustered": t.clustered,
                    "size": i.size,
                    "share": i.share,
                    "region": i.region,
                    "example_1": i.examples[0],
                    "example_2": i.examples[1] if len(i.examples) > 1 else None,
                }
                for t in report.issues
                for i in t.issues
            ]
        ),
    }


def _fmt_hours(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 60:.0f} min" if value < 1 else f"{value:.1f} h"


def _fmt_share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def render_html(report: MonthlyReport) -> str:
    """The self-contained HTML page."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["hours"] = _fmt_hours
    env.filters["share"] = _fmt_share
    images = {}
    for name, fig in figures(report).items():
        images[name] = plots.to_base64_png(fig)
    return env.get_template("monthly.html.j2").render(
        r=report,
        images=images,
        month_title=datetime.strptime(report.month, "%Y-%m").strftime("%B %Y"),
        generated=report.as_of.astimezone(ZoneInfo(report.timezone)),
    )


def build_monthly_report(
    engine: Engine,
    cfg: AnalyticsConfig,
    month: str,
    out: Path,
    embed: Embed | None = None,
    as_of: datetime | None = None,
    cluster_cap: int = 2000,
    threshold: float = DEFAULT_THRESHOLD,
) -> tuple[Path, MonthlyReport]:
    """Collect, render and write the month's report to ``out`` (a file, or a folder: ``report-YYYY-MM.html``)."""
    report = collect_monthly(engine, cfg, month, embed, as_of, cluster_cap, threshold)
    t0 = time.perf_counter()
    html = render_html(report)
    report.seconds["render"] = time.perf_counter() - t0
    path = out / f"report-{month}.html" if out.suffix.lower() not in (".html", ".htm") else out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    logger.info("monthly report for %s: %s (%d complaints)", month, path, report.complaints)
    return path, report
