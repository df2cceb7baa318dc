"""The monthly report: renders for a seeded month, an empty month and a single event; recurring issues; CLI."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from serving.analytics import report as monthly
from serving.analytics.cli_report import report_monthly_command
from serving.analytics.clusters import hashing_embed, recurring_issues, topic_issues
from serving.analytics.queries import AnalyticsConfig, ComplaintText
from serving.analytics.store import open_store, record_reply
from serving.store import PredictionLog
from tests import analytics_expected as expected
from tests.analytics_fixture import AS_OF, TARGETS, routed_row, seed_event_log
from training.taxonomy import default_taxonomy

CFG = AnalyticsConfig(default_taxonomy(), ZoneInfo("Asia/Jakarta"), TARGETS)
OCTOBER_WIB = (datetime(2026, 9, 30, 17, tzinfo=UTC), datetime(2026, 10, 31, 17, tzinfo=UTC))


def _self_contained(html: str) -> None:
    assert html.count('src="data:image/png;base64,') == 5
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<script" not in html and "<link" not in html


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    engine = open_store(f"sqlite:///{root / 'log.db'}")
    log = seed_event_log(engine)
    yield engine, log, root
    engine.dispose()


def test_report_for_a_seeded_month(seeded):
    engine, log, root = seeded
    path, rep = monthly.build_monthly_report(engine, CFG, "2026-10", root / "out", hashing_embed, AS_OF)
    assert path == root / "out" / "report-2026-10.html"
    html = path.read_text(encoding="utf-8")
    _self_contained(html)
    # The figures are the same as the API's (and a direct computation).
    want = expected.complaints(log, *OCTOBER_WIB, "month", "topic")["totals"]
    assert rep.topics.totals.total == want["total"] and rep.complaints == want["complaints"]
    assert {g.group: g.count for g in rep.topics.totals.groups} == want["groups"]
    by_agency = expected.response_times(log, *OCTOBER_WIB, "agency")
    assert rep.response_by_agency.overall.answered == by_agency["all"]["answered"]
    assert {g.group: g.sla_met for g in rep.response_by_agency.groups} == {
        k: v["sla_met"] for k, v in by_agency.items() if k != "all"
    }
    assert [p.period_start.strftime("%Y-%m") for p in rep.trend.periods][-1] == "2026-10"
    assert len(rep.trend.periods) == 12
    for section in ("Volume by topic", "Volume by agency", "Trend, last 12 months", "Regions", "SLA by agency"):
        assert section in html
    assert f"<b>{want['complaints']:,}</b><span>complaints</span>" in html
    assert "Recurring issues" in html and "complaints</b>" in html  # at least one repeated complaint


def test_report_tables_match_the_report(seeded):
    engine, _, _ = seeded
    rep = monthly.collect_monthly(engine, CFG, "2026-10", hashing_embed, AS_OF)
    t = monthly.tables(rep)
    assert t["topics"].complaints.sum() == rep.complaints
    assert t["sla_by_agency"].iloc[-1]["group"] == "all"
    assert list(t["trend"].month)[-1] == "2026-10" and t["summary"].loc[0, "total"] == rep.topics.totals.total


def test_report_for_an_empty_month(seeded, tmp_path):
    engine, _, _ = seeded

    def never(texts):
        raise AssertionError("nothing to embed in an empty month")

    path, rep = monthly.build_monthly_report(engine, CFG, "2025-01", tmp_path / "empty.html", never, AS_OF)
    html = path.read_text(encoding="utf-8")
    _self_contained(html)
    assert rep.complaints == 0 and rep.issues == [] and "No complaints this month." in html
    assert "no data this month" not in html  # that text is drawn inside the PNGs, not the HTML


def test_report_for_a_single_event(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'one.db'}")
    tweet_time = datetime(2026, 10, 15, 3, tzinfo=UTC)
    row = routed_row(
        "only",
        tweet_time,
        text="lampu jalan mati di Jalan Pemuda <b>Semarang</b>",
        topic="infrastruktur",
        urgency="sedang",
        region="Kota Semarang",
        agency_handle="@dpubinmarckjtg",
        needs_review=False,
    )
    PredictionLog(engine).append([row])
    record_reply(engine, "rep", "only", "@dpubinmarckjtg", tweet_time + timedelta(hours=2), AS_OF)
    path, rep = monthly.build_monthly_report(engine, CFG, "2026-10", tmp_path, hashing_embed, AS_OF)
    html = path.read_text(encoding="utf-8")
    _self_contained(html)
    assert rep.complaints == 1 and rep.response_by_agency.overall.median_hours == pytest.approx(2.0)
    assert rep.issues[0].complaints == 1 and rep.issues[0].issues == []  # one tweet repeats nothing
    assert "No complaint was repeated." in html and "2.0 h" in html
    assert "<b>Semarang</b>" not in html  # tweet text is escaped
    engine.dispose()


# --- recurring issues -----------------------------------------------------------------------------------


def _items(texts: list[str], topic: str = "infrastruktur", region: str | None = None) -> list[ComplaintText]:
    return [ComplaintText(f"id{i}", t, topic, region) for i, t in enumerate(texts)]


def _keyword_embed(texts):
    """Test double: texts about the same keyword get the same direction."""
    keys = ["lampu", "lubang", "pdam"]
    out = np.zeros((len(texts), len(keys) + len(texts)))
    for row, text in enumerate(texts):
        hit = next((k for k, key in enumerate(keys) if key in text), None)
        out[row, hit if hit is not None else len(keys) + row] = 1.0
    return out


def test_forty_reports_of_one_street_light_are_one_issue():
    light = [f"lampu jalan mati di Jalan Pemuda, laporan ke-{i}" for i in range(40)]
    holes = [f"jalan berlubang (lubang besar) depan pasar {i}" for i in range(6)]
    others = ["jembatan retak", "trotoar rusak parah", "drainase mampet"]
    issues = topic_issues("infrastruktur", _items(light + holes + others, region="Kota Semarang"), _keyword_embed)
    assert [i.size for i in issues.issues] == [40, 6]
    assert issues.issues[0].region == "Kota Semarang" and len(issues.issues[0].examples) == 2
    assert all("lampu" in e for e in issues.issues[0].examples)
    assert issues.issues[0].share == pytest.approx(40 / 49) and not issues.sampled


def test_exact_repeats_are_embedded_once_and_counted():
    seen = []

    def embed(texts):
        seen.extend(texts)
        return _keyword_embed(texts)

    items = _items(["PDAM mati  lagi"] * 5 + ["pdam mati lagi"] * 3 + ["lain hal"])
    issues = topic_issues("utilitas", items, embed)
    assert issues.issues[0].size == 8 and len(seen) == 2


def test_the_clustering_sample_is_capped():
    items = _items([f"lampu mati {i}" for i in range(50)])
    issues = topic_issues("infrastruktur", items, _keyword_embed, max_per_topic=10)
    assert issues.complaints == 50 and issues.clustered == 10 and issues.sampled
    assert issues.issues[0].size == 10


def test_recurring_issues_per_topic_in_taxonomy_order():
    items = _items(["lampu mati"] * 3, "infrastruktur") + _items(["pdam mati"] * 2, "utilitas")
    result = recurring_issues(items, _keyword_embed, ["utilitas", "bencana", "infrastruktur"])
    assert [t.topic for t in result] == ["utilitas", "infrastruktur"]


def test_hashing_embed_is_deterministic_and_normalised():
    a = hashing_embed(["lampu jalan mati", "lampu jalan mati", "banjir"])
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0) and np.allclose(a[0], a[1]) and a[0] @ a[2] < 0.5


@pytest.mark.slow
def test_e5_groups_paraphrases_of_one_issue():
    """The default encoder and threshold: paraphrases of one street light group together, other issues stay out."""
    from serving.analytics.clusters import default_embed

    light = [
        "lampu jalan mati di Jalan Pemuda Semarang sudah seminggu",
        "lampu PJU di jl pemuda semarang mati terus tolong",
        "Jalan Pemuda lampunya mati gelap banget",
        "lampu jalan di jalan pemuda mati min",
        "pju jalan pemuda semarang padam, gelap gulita",
        "tolong lampu jalan pemuda diperbaiki, mati sejak minggu lalu",
    ]
    others = [
        "jalan berlubang di Jalan Pemuda bahaya",
        "jalan rusak parah di ungaran banyak lubang",
        "jembatan retak truk tetap lewat",
        "drainase mampet air meluber ke jalan",
    ]
    issues = topic_issues("infrastruktur", _items(light + others), default_embed())
    top = issues.issues[0]
    assert top.size >= 4 and all("lampu" in e.lower() or "pju" in e.lower() for e in top.examples)


# --- CLI ------------------------------------------------------------------------------------------------


def _cli() -> typer.Typer:
    app = typer.Typer()
    report_app = typer.Typer()
    report_app.command("monthly")(report_monthly_command)
    app.add_typer(report_app, name="report")
    return app


def test_report_monthly_command(seeded, tmp_path, monkeypatch):
    engine, _, _ = seeded
    monkeypatch.setattr(monthly, "default_embed", lambda: hashing_embed)
    url = str(engine.url)
    runner = CliRunner()
    ok = runner.invoke(
        _cli(), ["report", "monthly", "--month", "2026-10", "--out", str(tmp_path), "--database-url", url]
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "report-2026-10.html").exists() and "complaints in 2026-10" in ok.output
    bad = runner.invoke(_cli(), ["report", "monthly", "--month", "October", "--database-url", url])
    assert bad.exit_code == 2 and "--month" in bad.output
    helped = runner.invoke(_cli(), ["report", "monthly", "--help"])
    assert helped.exit_code == 0 and "--database-url" in helped.output and "YYYY-MM" in helped.output


def test_report_covers_the_last_12_months(seeded):
    rng = monthly.previous_months_range("2026-02", CFG)
    assert rng.start == datetime(2025, 2, 28, 17, tzinfo=UTC) and rng.end == datetime(2026, 2, 28, 17, tzinfo=UTC)
    assert pd.Timestamp(rng.end).tz_convert("Asia/Jakarta").day == 1
