"""Analytics storage: schema on new and existing logs, UTC storage, idempotent replies, corrections; PostgreSQL."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import typer
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.dialects import postgresql
from typer.testing import CliRunner

from serving.analytics import queries
from serving.analytics.cli_report import rebuild_facts_command
from serving.analytics.facts import PlannerStatistics, epoch_ms, ms_sql, rebuild_facts
from serving.analytics.queries import AnalyticsConfig, TimeRange
from serving.analytics.store import (
    ReplyRejected,
    corrections,
    open_store,
    record_reply,
    replies,
    tweet_facts,
    upsert_correction,
)
from serving.store import PredictionLog, routed_tweets
from tests import analytics_expected as expected
from tests.analytics_fixture import AS_OF, TARGETS, fact_rows, routed_row, seed_event_log
from training.regions import CANONICAL_REGIONS
from training.taxonomy import default_taxonomy

WIB = timezone(timedelta(hours=7))
CFG = AnalyticsConfig(default_taxonomy(), ZoneInfo("Asia/Jakarta"), TARGETS)


def _rebuilt(engine) -> list:
    """The projection recomputed from the events (rebuild_facts), in pk order."""
    rebuild_facts(engine)
    return fact_rows(engine)


def test_new_store_has_the_tables_and_indexes(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    insp = inspect(engine)
    assert {"routed_tweets", "replies", "corrections", "tweet_facts"} <= set(insp.get_table_names())
    with engine.connect() as conn:
        names = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))}
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert {
        "ix_routed_tweet_id",
        "ix_routed_received_at",
        "ix_replies_tweet_replied",
        "ix_facts_topic_time",
        "ix_facts_urgency_time",
        "ix_facts_lang_time",
        "ix_facts_region_time",
        "ix_facts_time",
        "ix_facts_open",
    } <= names


def test_an_existing_log_gets_the_analytics_schema_and_keeps_its_rows(tmp_path):
    """A log written before analytics existed: the tables are added, the facts built, nothing is lost."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    with old.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE routed_tweets (pk INTEGER PRIMARY KEY, tweet_id VARCHAR(100), request_id VARCHAR(64) "
                "NOT NULL, received_at DATETIME NOT NULL, created_at DATETIME, text TEXT NOT NULL, topic VARCHAR(32) "
                "NOT NULL, topic_confidence FLOAT NOT NULL, urgency VARCHAR(16) NOT NULL, urgency_confidence FLOAT NOT "
                "NULL, lang VARCHAR(8), region VARCHAR(64), agency_handle VARCHAR(64), needs_review BOOLEAN NOT NULL, "
                "topic_version VARCHAR(200) NOT NULL, urgency_version VARCHAR(200) NOT NULL, latency_ms FLOAT NOT NULL)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO routed_tweets VALUES (1, 'old-1', 'r', '2026-11-01 00:00:00.000000', NULL, 'x', "
                "'bencana', 0.9, 'darurat', 0.9, 'id', NULL, '@bpbdjateng', 1, 'v', 'v', 1.0)"
            )
        )
        # An index an earlier version added for the stats: retired (the stats read tweet_facts now).
        conn.execute(text("CREATE INDEX ix_routed_labels_time ON routed_tweets (topic, urgency, pk)"))
    old.dispose()
    engine = open_store(url)
    with engine.connect() as conn:
        names = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))}
        assert conn.execute(select(func.count()).select_from(routed_tweets)).scalar_one() == 1
        fact = conn.execute(select(tweet_facts)).one()
    assert "ix_routed_labels_time" not in names and "ix_facts_open" in names
    assert (fact.tweet_id, fact.topic, fact.tweet_ms, fact.first_reply_ms) == (
        "old-1",
        "bencana",
        epoch_ms(datetime(2026, 11, 1, tzinfo=UTC)),
        None,
    )
    stored, created = record_reply(engine, "r1", "old-1", "@bpbdjateng", datetime(2026, 11, 1, 1, tzinfo=UTC), AS_OF)
    assert created and stored.tweet_id == "old-1"
    open_store(url)  # idempotent
    assert fact_rows(engine) == _rebuilt(engine)


def test_facts_maintained_on_write_equal_a_rebuild_from_the_events(tmp_path):
    """Every write path (appends, out-of-order replies, corrections, a late older correction) keeps the
    projection exactly where a rebuild from the events puts it, and the facts match the fixture's frames."""
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    log = seed_event_log(engine)
    maintained = fact_rows(engine)
    assert maintained == _rebuilt(engine)
    want = expected.final_tweets(log)
    first_reply = log.replies.groupby("tweet_id").replied_at.min()
    assert [(f.pk, f.tweet_id, f.topic, f.urgency, f.lang, f.complaint) for f in maintained] == [
        (
            r.pk,
            None if pd.isna(r.tweet_id) else r.tweet_id,
            r.topic,
            r.urgency,
            None if pd.isna(r.lang) else r.lang,
            r.topic != "lainnya",
        )
        for r in want.itertuples()
    ]
    by_id = {f.tweet_id: f for f in maintained if f.tweet_id is not None}
    for tweet_id, replied in first_reply.items():
        assert by_id[tweet_id].first_reply_ms == epoch_ms(replied)


def test_a_correction_sent_before_the_routing_is_picked_up(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    upsert_correction(engine, "a", "utilitas", "sedang", "jv", "ayu", AS_OF)
    assert fact_rows(engine) == []  # a correction alone is not a tweet
    PredictionLog(engine).append([routed_row("a", datetime(2026, 11, 1, 1, tzinfo=UTC))])
    (fact,) = fact_rows(engine)
    assert fact[1:6] == ("a", epoch_ms(datetime(2026, 11, 1, 1, tzinfo=UTC)), "utilitas", "sedang", "jv")


def test_a_re_routing_keeps_the_first_routing_and_id_less_routings_each_count(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    log = PredictionLog(engine)
    first = datetime(2026, 11, 1, 1, tzinfo=UTC)
    log.append([routed_row("a", first), routed_row(None, first), routed_row("a", first + timedelta(hours=1))])
    log.append([routed_row("a", first + timedelta(hours=2)) | {"topic": "utilitas"}, routed_row(None, first)])
    facts = fact_rows(engine)
    assert [(f.pk, f.tweet_id, f.topic) for f in facts] == [
        (1, "a", "bencana"),
        (2, None, "bencana"),
        (5, None, "bencana"),
    ]
    assert facts == _rebuilt(engine)


def test_rebuild_facts_command_repairs_a_projection_edited_by_hand(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    engine = open_store(url)
    log = PredictionLog(engine)
    log.append([routed_row("a", AS_OF - timedelta(days=1)), routed_row(None, AS_OF - timedelta(days=2))])
    record_reply(engine, "r1", "a", "@bpbdjateng", AS_OF, AS_OF)
    before = fact_rows(engine)
    with engine.begin() as conn:  # someone pruned the projection by hand
        conn.execute(tweet_facts.delete().where(tweet_facts.c.tweet_id == "a"))
    app = typer.Typer()
    report_app = typer.Typer()
    report_app.command("rebuild-facts")(rebuild_facts_command)
    app.add_typer(report_app, name="report")
    result = CliRunner().invoke(app, ["report", "rebuild-facts", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "tweet_facts: 2 tweets" in result.output and fact_rows(engine) == before


def test_planner_statistics_follow_the_log_so_volumes_skip_scan(tmp_path):
    """A store opened empty has no statistics; the periodic refresh gives SQLite what it needs to read each
    dimension's covering index in group order (no sort of the whole range, no table lookups)."""
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    planner = PlannerStatistics(engine, interval_s=3600)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    labels = [("bencana", "darurat", "id"), ("utilitas", "sedang", "jv"), ("lainnya", "rendah", "campur")]
    rows = [
        routed_row(f"t{i}", start + timedelta(minutes=i))
        | dict(zip(("topic", "urgency", "lang"), labels[i % 3], strict=True), region=CANONICAL_REGIONS[i % 4])
        for i in range(600)
    ]
    PredictionLog(engine).append(rows)

    def plan(dimension: str) -> str:
        key = tweet_facts.c[dimension]
        stmt = (
            select(key, func.count(), func.sum(tweet_facts.c.complaint))
            .where(tweet_facts.c.tweet_ms >= 0, tweet_facts.c.tweet_ms < epoch_ms(AS_OF))
            .group_by(key)
        )
        with engine.connect() as conn:
            compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
            return " ".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))

    assert not planner.refresh_if_due()  # not due yet
    assert "TEMP B-TREE" in plan("region")
    planner.interval_s = 0
    assert planner.refresh_if_due()
    for dimension in ("topic", "urgency", "lang", "region"):
        assert f"COVERING INDEX ix_facts_{dimension}_time" in plan(dimension) and "TEMP B-TREE" not in plan(dimension)


def test_sql_and_python_agree_on_milliseconds(tmp_path):
    """The SQL conversion (rebuilds) and epoch_ms (range bounds) floor the same instant to the same ms."""
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    moments = [
        datetime(2026, 11, 1, 1, 0, 0, 999999, tzinfo=UTC),
        datetime(2026, 11, 1, 1, 0, 0, 1000, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 500, tzinfo=UTC),
        datetime(2026, 11, 1, 8, 0, tzinfo=WIB),
    ]
    PredictionLog(engine).append([routed_row(f"t{i}", m) for i, m in enumerate(moments)])
    with engine.connect() as conn:
        sql = conn.execute(select(ms_sql("sqlite", routed_tweets.c.received_at)).order_by(routed_tweets.c.pk))
        assert list(sql.scalars()) == [epoch_ms(m) for m in moments]
    assert epoch_ms(moments[0]) % 1000 == 999 and epoch_ms(moments[2]) % 1000 == 0


def test_times_are_stored_in_utc_and_read_back_aware(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    PredictionLog(engine).append(
        [routed_row("a", datetime(2026, 11, 1, 8, 0, tzinfo=WIB), datetime(2026, 11, 1, 7, 0)), routed_row(None, AS_OF)]
    )
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT received_at, created_at FROM routed_tweets ORDER BY pk")).first()
        typed = conn.execute(select(routed_tweets.c.received_at, routed_tweets.c.created_at)).first()
    assert raw == ("2026-11-01 01:00:00.000000", "2026-11-01 07:00:00.000000")  # +07:00 converted; naive = UTC
    assert typed.received_at == datetime(2026, 11, 1, 1, 0, tzinfo=UTC) and typed.received_at.tzinfo is not None
    assert typed.created_at == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)


def test_record_reply_rules_at_the_store_level(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    PredictionLog(engine).append([routed_row("a", datetime(2026, 11, 1, 1, tzinfo=UTC))])
    at = datetime(2026, 11, 1, 2, tzinfo=UTC)
    with pytest.raises(ReplyRejected) as exc:
        record_reply(engine, "r1", "a", "@bpbdjateng", datetime(2026, 11, 1, 2), AS_OF)
    assert exc.value.field == "replied_at"
    with pytest.raises(ReplyRejected) as exc:
        record_reply(engine, "r1", "missing", "@bpbdjateng", at, AS_OF)
    assert exc.value.field == "tweet_id" and exc.value.status == 422
    first, created = record_reply(engine, "r1", "a", "@bpbdjateng", at.astimezone(WIB), AS_OF)
    assert created and first.replied_at == at
    assert record_reply(engine, "r1", "a", "@bpbdjateng", at, AS_OF) == (first, False)
    with pytest.raises(ReplyRejected) as exc:
        record_reply(engine, "r1", "a", "@bpbdjateng", at + timedelta(seconds=1), AS_OF)
    assert exc.value.status == 409 and exc.value.field == "reply_id"


def test_concurrent_identical_replies_store_one(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    PredictionLog(engine).append([routed_row("a", datetime(2026, 11, 1, 1, tzinfo=UTC))])
    results, errors = [], []

    def post():
        try:
            results.append(record_reply(engine, "r1", "a", "@bpbdjateng", datetime(2026, 11, 1, 2, tzinfo=UTC), AS_OF))
        except Exception as exc:  # collected: the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(12)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == [] and sum(created for _, created in results) == 1 and len(results) == 12
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(replies)).scalar_one() == 1


def test_the_latest_correction_wins_whatever_the_arrival_order(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    newer, older = AS_OF, AS_OF - timedelta(days=1)
    upsert_correction(engine, "a", "lainnya", "rendah", None, "ayu", newer)
    upsert_correction(engine, "a", "bencana", "darurat", "id", "budi", older)
    upsert_correction(engine, "b", "bencana", "darurat", "id", "budi", older)
    upsert_correction(engine, "b", "utilitas", "sedang", "jv", "ayu", newer)
    with engine.connect() as conn:
        rows = {r.tweet_id: r for r in conn.execute(select(corrections))}
    assert (rows["a"].topic, rows["a"].reviewer, rows["a"].corrected_at) == ("lainnya", "ayu", newer)
    assert (rows["b"].topic, rows["b"].lang) == ("utilitas", "jv")


def test_periods_follow_the_zone_even_across_dst(tmp_path):
    """Period bounds come from zoneinfo, so a zone with daylight saving works on SQLite too."""
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    # Berlin moves to CEST on 2026-03-29: 22:30Z on the 29th is 00:30 on the 30th; 22:30Z on the 28th is 23:30.
    PredictionLog(engine).append(
        [
            routed_row("a", datetime(2026, 3, 28, 22, 30, tzinfo=UTC)),
            routed_row("b", datetime(2026, 3, 29, 22, 30, tzinfo=UTC)),
        ]
    )
    berlin = AnalyticsConfig(default_taxonomy(), ZoneInfo("Europe/Berlin"), TARGETS)
    rng = TimeRange(datetime(2026, 3, 27, 23, tzinfo=UTC), datetime(2026, 3, 30, 22, tzinfo=UTC))
    periods = queries.complaint_counts(engine, berlin, rng, "day", "topic").periods
    assert [(p.period_start.isoformat(), p.total) for p in periods] == [
        ("2026-03-28T00:00:00+01:00", 1),
        ("2026-03-29T00:00:00+01:00", 0),
        ("2026-03-30T00:00:00+02:00", 1),
    ]
    summer = TimeRange(datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
    periods = queries.complaint_counts(engine, berlin, summer, "day", "topic").periods
    # 00:00Z is 02:00 in Berlin in summer: the range touches 31 local days, 1 June to 1 July.
    assert [p.period_start.isoformat() for p in (periods[0], periods[-1])] == [
        "2026-06-01T00:00:00+02:00",
        "2026-07-01T00:00:00+02:00",
    ]
    assert len(periods) == 31


def test_postgres_sql_compiles():
    """The dialect-specific expression renders for PostgreSQL (the live check is the slow test below)."""
    sql = str(ms_sql("postgresql", routed_tweets.c.received_at).compile(dialect=postgresql.dialect()))
    assert "EXTRACT(epoch" in sql and "floor" in sql


# --- PostgreSQL, live --------------------------------------------------------------------------------


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


@pytest.fixture(scope="module")
def postgres_url():
    """A throwaway PostgreSQL server (skipped when the binaries or the driver are missing)."""
    pytest.importorskip("psycopg")
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL binaries not installed")
    as_root = os.geteuid() == 0
    if as_root and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser")
    root = Path(tempfile.mkdtemp(prefix="kemala-pg-"))
    user = "postgres" if as_root else None
    if as_root:
        shutil.chown(root, user)
    prefix = ["runuser", "-u", user, "--"] if as_root else []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "kemala"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-w",
            "-o",
            f"-p {port} -k {root} -c listen_addresses=''",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        url = f"postgresql+psycopg://kemala@/postgres?host={root}&port={port}"
        for _ in range(50):
            try:
                create_engine(url).connect().close()
                break
            except Exception:
                time.sleep(0.1)
        yield url
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_the_same_code_on_postgresql(postgres_url):
    engine = open_store(postgres_url)
    log = seed_event_log(engine)
    start, end = datetime(2026, 7, 31, 17, tzinfo=UTC), datetime(2026, 11, 30, 17, tzinfo=UTC)
    rng = TimeRange(start, end)
    for interval in queries.INTERVALS:
        for group_by in ("topic", "agency", "region"):
            got = queries.complaint_counts(engine, CFG, rng, interval, group_by)
            want = expected.complaints(log, start, end, interval, group_by)
            assert [pd.Timestamp(p.period_start) for p in got.periods] == [p for p in want if p != "totals"]
            for p in got.periods:
                w = want[pd.Timestamp(p.period_start)]
                assert (p.total, p.lainnya, {g.group: g.count for g in p.groups}) == (
                    w["total"],
                    w["lainnya"],
                    w["groups"],
                )
    got = queries.response_times(engine, CFG, rng, AS_OF, "agency")
    want = expected.response_times(log, start, end, "agency")
    for g in [*got.groups, got.overall]:
        w = want[g.group]
        assert (g.complaints, g.answered, g.sla_met, g.sla_missed, g.sla_pending) == (
            w["complaints"],
            w["answered"],
            w["sla_met"],
            w["sla_missed"],
            w["sla_pending"],
        )
        assert g.median_hours == pytest.approx(w["median_hours"], abs=1e-3)
        assert g.p90_hours == pytest.approx(w["p90_hours"], abs=1e-3)
    backlog = queries.backlog(engine, CFG, AS_OF, None, 1000)
    assert [i.tweet_id for i in backlog.items] == list(expected.backlog(log).tweet_id)
    agency = "@dpubinmarckjtg"
    backlog = queries.backlog(engine, CFG, AS_OF, agency, 1000)
    assert [i.tweet_id for i in backlog.items] == list(expected.backlog(log, agency).tweet_id)
    assert fact_rows(engine) == _rebuilt(engine)
    # The boundary tweet is November in WIB on PostgreSQL too.
    one = queries.complaint_counts(
        engine,
        CFG,
        TimeRange(datetime(2026, 10, 31, 18, tzinfo=UTC), datetime(2026, 10, 31, 18, 0, 1, tzinfo=UTC)),
        "month",
    )
    assert one.periods[0].period_start.isoformat() == "2026-11-01T00:00:00+07:00" and one.totals.total == 1
    engine.dispose()
