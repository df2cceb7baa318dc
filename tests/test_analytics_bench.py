"""The analytics benchmark on a small store: the bulk fill is valid and the run writes stats.json/stats.md."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from serving.analytics.bench import fill_store, run_stats_bench
from serving.analytics.cli_bench import bench_stats_command
from serving.analytics.facts import IS_FIRST
from serving.analytics.store import corrections, open_store, replies, tweet_facts
from serving.store import routed_tweets


def test_bulk_fill_matches_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'b.db'}"
    summary = fill_store(url, n_tweets=3000, n_replies=1500, end=datetime(2026, 11, 28, tzinfo=UTC))
    engine = open_store(url)
    with engine.connect() as conn:
        count = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in (routed_tweets, replies)
        }
        ids = conn.execute(select(func.count(routed_tweets.c.tweet_id.distinct()))).scalar_one()
        first = conn.execute(select(routed_tweets).order_by(routed_tweets.c.pk).limit(1)).one()
        n_corrections = conn.execute(select(func.count()).select_from(corrections)).scalar_one()
        facts = conn.execute(select(func.count(), func.count(tweet_facts.c.first_reply_ms))).one()
        n_answered = conn.execute(select(func.count(replies.c.tweet_id.distinct()))).scalar_one()
        late = conn.execute(
            select(func.count())
            .select_from(replies.join(routed_tweets, routed_tweets.c.tweet_id == replies.c.tweet_id))
            .where(
                IS_FIRST, replies.c.replied_at < func.coalesce(routed_tweets.c.created_at, routed_tweets.c.received_at)
            )
        ).scalar_one()
    assert count == {"routed_tweets": 3000, "replies": 1500} and summary.replies == 1500
    assert 2900 <= ids < 3000  # about 1% re-routed
    assert first.received_at.tzinfo is not None and summary.start <= first.received_at <= summary.end
    assert n_corrections == 15 and late == 0  # no reply precedes its tweet's first routing
    n_answered = len({t for (t,) in engine.connect().execute(select(replies.c.tweet_id))})
    assert tuple(facts) == (ids, n_answered)  # the projection was built: one fact per tweet id
    engine.dispose()


@pytest.mark.slow
def test_bench_run_writes_results(tmp_path):
    result = run_stats_bench(tmp_path / "results", None, n_tweets=4000, n_replies=2000, calls=2, long_calls=2)
    saved = json.loads((tmp_path / "results" / "stats.json").read_text())
    assert saved["store"]["tweets"] == 4000 and saved["target_p99_ms"] == 200
    names = {(t["name"], t["how"]) for t in saved["timings"]}
    assert len(names) == 15 and ("backlog (limit 100)", "api") in names and ("record a reply", "api") in names
    assert all(t["p99_ms"] >= t["p50_ms"] > 0 for t in saved["timings"])
    assert saved["report"]["seconds"] > 0 and result["report"]["complaints"] > 0
    md = (tmp_path / "results" / "stats.md").read_text()
    assert "| complaints (1 month, daily) | api |" in md and "Monthly report" in md


def test_bench_command_help():
    app = typer.Typer()
    app.command("bench-stats")(bench_stats_command)
    app.command("other")(lambda: None)  # a group, so the command is addressed by name
    result = CliRunner().invoke(app, ["bench-stats", "--help"])
    assert result.exit_code == 0 and "--tweets" in result.output and "--store" in result.output
