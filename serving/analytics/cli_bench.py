"""``kemala bench-stats``: the analytics benchmark on a one-million-tweet SQLite store.

The lead mounts :func:`bench_stats_command` on the ``kemala`` app as ``bench-stats``.
"""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

logger = logging.getLogger(__name__)


def bench_stats_command(
    out: Annotated[Path, typer.Option(help="Where stats.json and stats.md go.")] = Path("bench/results"),
    store: Annotated[
        Path | None,
        typer.Option(help="SQLite file to fill, or to reuse when it exists (default: a temporary file, deleted)."),
    ] = None,
    tweets: Annotated[int, typer.Option(min=1000, help="Routed tweets to generate.")] = 1_000_000,
    replies: Annotated[int, typer.Option(min=0, help="Agency replies to generate.")] = 600_000,
    calls: Annotated[int, typer.Option(min=2, help="Timed calls per endpoint (p50/p99 over these).")] = 30,
    long_calls: Annotated[int, typer.Option(min=2, help="Timed calls for the 3- and 12-month ranges.")] = 10,
    embed: Annotated[
        str, typer.Option(help="Report embedding: 'hashing' (fast stand-in) or 'e5' (multilingual-e5-small, slow).")
    ] = "hashing",
    cluster_cap: Annotated[int, typer.Option(min=2, help="Complaints clustered per topic in the report.")] = 2000,
) -> None:
    """Fill a SQLite store with synthetic tweets and replies, time each stats endpoint (in-process and through
    the API) and the monthly report's build; write stats.json and stats.md."""
    from serving.analytics.bench import run_stats_bench, to_markdown

    for noisy in ("httpx", "httpx2", "kemala.access"):  # one INFO line per request otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if embed not in ("hashing", "e5"):
        typer.secho("--embed must be 'hashing' or 'e5'", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    result = run_stats_bench(
        out,
        store,
        tweets,
        replies,
        calls,
        long_calls,
        embed,
        cluster_cap,
        command="kemala " + shlex.join(sys.argv[1:]),
    )
    typer.echo(to_markdown(result))
