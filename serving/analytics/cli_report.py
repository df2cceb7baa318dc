"""``kemala report monthly``: the month's complaint report as one self-contained HTML file.

``kemala report rebuild-facts``: recompute the per-tweet analytics projection from the events.

The lead mounts both on the ``kemala`` app (``report`` group).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

logger = logging.getLogger(__name__)


def report_monthly_command(
    month: Annotated[
        str, typer.Option(help="The calendar month to report, YYYY-MM (boundaries in the reporting zone, WIB).")
    ],
    out: Annotated[Path, typer.Option(help="Output HTML file, or a folder to write report-YYYY-MM.html into.")] = Path(
        "reports/analytics"
    ),
    database_url: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL of the prediction log (default: KEMALA_DATABASE_URL or the local SQLite)."),
    ] = None,
    cluster_cap: Annotated[
        int, typer.Option(min=2, help="Cluster at most this many complaints per topic (random sample above it).")
    ] = 2000,
) -> None:
    """Write the monthly complaint report: volumes by topic, agency and region, the 12-month trend,
    response times and SLA per agency, and the month's recurring issues (multilingual-e5-small)."""
    from serving.analytics.queries import AnalyticsConfig, QueryError
    from serving.analytics.report import build_monthly_report
    from serving.analytics.store import open_store
    from serving.settings import Settings
    from training.taxonomy import load_taxonomy

    overrides = {"database_url": database_url} if database_url else {}
    settings = Settings(**overrides)
    engine = open_store(settings.database_url)
    cfg = AnalyticsConfig.from_settings(settings, load_taxonomy(settings.taxonomy_path))
    try:
        path, report = build_monthly_report(engine, cfg, month, out, cluster_cap=cluster_cap)
    except QueryError as exc:
        typer.secho(f"--{exc.field}: {exc.msg}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    typer.echo(f"report: {path} ({report.complaints:,} complaints in {month})")


def rebuild_facts_command(
    database_url: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL of the prediction log (default: KEMALA_DATABASE_URL or the local SQLite)."),
    ] = None,
) -> None:
    """Recompute ``tweet_facts`` (what the stats read) from the routed tweets, replies and corrections.

    Every write keeps the projection current; run this after editing or pruning the log by hand."""
    from serving.analytics.facts import analyze, rebuild_facts
    from serving.analytics.store import open_store
    from serving.settings import Settings

    settings = Settings(**({"database_url": database_url} if database_url else {}))
    engine = open_store(settings.database_url)
    try:
        count = rebuild_facts(engine)
        with engine.begin() as conn:
            analyze(conn)
    finally:
        engine.dispose()
    typer.echo(f"tweet_facts: {count:,} tweets")
