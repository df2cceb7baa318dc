"""Analytics endpoints: every figure against a direct pandas computation, every bad input, idempotent replies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from serving.analytics.store import corrections, replies
from serving.app import create_app
from serving.deps import get_now
from serving.settings import Settings
from serving.store import PredictionLog
from tests import analytics_expected as expected
from tests.analytics_fixture import AS_OF, BOUNDARY_TWEET, EventLog, routed_row, seed_event_log

KEY = "test-key"
AUTH = {"X-API-Key": KEY}
FULL = {"from": "2026-08-01", "to": "2026-11-30"}  # WIB dates: 2026-07-31T17:00Z .. 2026-11-30T17:00Z
FULL_START, FULL_END = datetime(2026, 7, 31, 17, tzinfo=UTC), datetime(2026, 11, 30, 17, tzinfo=UTC)


def _app(tmp_path) -> TestClient:
    settings = Settings(
        api_keys=[KEY],
        models_dir=tmp_path / "no-models",
        database_url=f"sqlite:///{tmp_path / 'log.db'}",
        feedback_path=tmp_path / "feedback.jsonl",
    )
    app = create_app(settings, load_models=False)
    app.dependency_overrides[get_now] = lambda: AS_OF
    return TestClient(app)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[TestClient, EventLog]:
    client = _app(tmp_path_factory.mktemp("analytics"))
    log = seed_event_log(client.app.state.log.engine)
    with client:
        yield client, log


@pytest.fixture
def client(tmp_path) -> TestClient:
    with _app(tmp_path) as c:
        yield c


def _ts(value: str) -> pd.Timestamp:
    return pd.Timestamp(datetime.fromisoformat(value))


def _check_counts(got: dict, want: dict) -> None:
    assert got["total"] == want["total"]
    assert got["lainnya"] == want["lainnya"]
    assert got["complaints"] == want["complaints"]
    if want["lainnya_share"] is None:
        assert got["lainnya_share"] is None
    else:
        assert got["lainnya_share"] == pytest.approx(want["lainnya_share"], abs=1e-6)
    assert {g["group"]: g["count"] for g in got["groups"]} == want["groups"]
    assert len(got["groups"]) == len(want["groups"])  # each group once


# --- the fixture itself ---------------------------------------------------------------------------------


def test_fixture_has_the_edge_cases(seeded):
    _, log = seeded
    r = log.routings
    assert 300 <= len(r) <= 500 and r.tweet_id.duplicated().sum() >= 10 and r.tweet_id.isna().any()
    assert r.created_at.isna().any() and (log.replies.groupby("tweet_id").size() > 1).any()
    assert (expected.final_tweets(log).topic == "lainnya").any()
    assert log.corrections.tweet_id.duplicated().any()  # the stale correction


# --- complaints -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", ["day", "week", "month"])
@pytest.mark.parametrize("group_by", ["topic", "agency", "region", "urgency", "lang"])
def test_complaint_counts_match_a_direct_computation(seeded, interval, group_by):
    client, log = seeded
    r = client.get("/v1/stats/complaints", params=FULL | {"interval": interval, "group_by": group_by}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    want = expected.complaints(log, FULL_START, FULL_END, interval, group_by)
    assert body["interval"] == interval and body["group_by"] == group_by and body["timezone"] == "Asia/Jakarta"
    assert _ts(body["start"]) == pd.Timestamp(FULL_START) and _ts(body["end"]) == pd.Timestamp(FULL_END)
    assert body["start"].endswith("+07:00")
    periods = [_ts(p["period_start"]) for p in body["periods"]]
    assert periods == [p for p in want if p != "totals"]  # every period, empty ones included, in order
    for p in body["periods"]:
        assert p["period_start"].endswith("T00:00:00+07:00")
        _check_counts(p, want[_ts(p["period_start"])])
    _check_counts(body["totals"], want["totals"])
    assert body["totals"]["total"] == sum(p["total"] for p in body["periods"])


def test_complaint_counts_with_times_and_offsets(seeded):
    client, log = seeded
    params = {"from": "2026-09-10T12:00:00+07:00", "to": "2026-10-20T08:30:00Z", "interval": "week"}
    body = client.get("/v1/stats/complaints", params=params | {"group_by": "urgency"}, headers=AUTH).json()
    start, end = datetime(2026, 9, 10, 5, tzinfo=UTC), datetime(2026, 10, 20, 8, 30, tzinfo=UTC)
    want = expected.complaints(log, start, end, "week", "urgency")
    assert [_ts(p["period_start"]) for p in body["periods"]] == [p for p in want if p != "totals"]
    for p in body["periods"]:
        _check_counts(p, want[_ts(p["period_start"])])
    _check_counts(body["totals"], want["totals"])
    # A time without an offset is WIB.
    naive = client.get(
        "/v1/stats/complaints", params={"from": "2026-09-10T12:00:00", "to": params["to"]}, headers=AUTH
    ).json()
    assert naive["totals"]["total"] == body["totals"]["total"]


def test_wib_month_boundary(seeded):
    """2026-10-31T18:00Z is 2026-11-01 01:00 in Jakarta: November, not October."""
    client, log = seeded
    boundary = expected.final_tweets(log).set_index("tweet_id").loc[BOUNDARY_TWEET]
    assert boundary.tweet_time == pd.Timestamp("2026-10-31T18:00:00Z") and boundary.topic == "bencana"
    just_it = {"from": "2026-10-31T18:00:00Z", "to": "2026-10-31T18:00:01Z"}
    for interval in ("month", "day"):
        body = client.get("/v1/stats/complaints", params=just_it | {"interval": interval}, headers=AUTH).json()
        assert [p["period_start"] for p in body["periods"]] == ["2026-11-01T00:00:00+07:00"]
        assert body["periods"][0]["groups"] == [{"group": "bencana", "count": 1}]
    months = client.get("/v1/stats/complaints", params=FULL | {"interval": "month"}, headers=AUTH).json()
    by_month = {p["period_start"][:7]: p for p in months["periods"]}
    want = expected.complaints(log, FULL_START, FULL_END, "month", "topic")
    assert by_month["2026-11"]["total"] == want[pd.Timestamp("2026-11-01", tz="Asia/Jakarta")]["total"]
    assert by_month["2026-10"]["total"] == want[pd.Timestamp("2026-10-01", tz="Asia/Jakarta")]["total"]
    # `to` as a date includes that whole WIB day, which ends before the boundary tweet.
    october = client.get("/v1/stats/complaints", params={"from": "2026-10-01", "to": "2026-10-31"}, headers=AUTH)
    assert _ts(october.json()["end"]) == pd.Timestamp("2026-10-31T17:00:00Z")
    assert october.json()["totals"]["total"] == by_month["2026-10"]["total"]
    november = client.get("/v1/stats/complaints", params={"from": "2026-11-01", "to": "2026-11-30"}, headers=AUTH)
    assert november.json()["totals"]["total"] == by_month["2026-11"]["total"]


def test_complaints_default_to_the_last_30_days(seeded):
    client, log = seeded
    body = client.get("/v1/stats/complaints", headers=AUTH).json()
    assert _ts(body["end"]) == pd.Timestamp(AS_OF) and _ts(body["start"]) == pd.Timestamp(AS_OF - timedelta(days=30))
    want = expected.complaints(log, AS_OF - timedelta(days=30), AS_OF, "day", "topic")
    _check_counts(body["totals"], want["totals"])


# --- response times -------------------------------------------------------------------------------------


def _check_response(got: dict, want: dict) -> None:
    for key in ("complaints", "answered", "unanswered", "sla_met", "sla_missed", "sla_pending"):
        assert got[key] == want[key], key
    for key in ("median_hours", "p90_hours", "within_target_share"):
        if want[key] is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(want[key], abs=1e-3), key


@pytest.mark.parametrize("group_by", ["agency", "urgency", "topic"])
@pytest.mark.parametrize("params", [FULL, {"from": "2026-10-01", "to": "2026-10-31"}])
def test_response_times_match_a_direct_computation(seeded, group_by, params):
    client, log = seeded
    r = client.get("/v1/stats/response-times", params=params | {"group_by": group_by}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    start, end = datetime.fromisoformat(body["start"]), datetime.fromisoformat(body["end"])
    want = expected.response_times(log, start, end, group_by)
    assert {g["group"] for g in body["groups"]} == set(want) - {"all"}
    for g in body["groups"]:
        _check_response(g, want[g["group"]])
    _check_response(body["overall"], want["all"])
    assert body["targets_hours"] == {"darurat": 1.0, "tinggi": 24.0, "sedang": 72.0, "rendah": None}
    assert _ts(body["as_of"]) == pd.Timestamp(AS_OF)
    overall = body["overall"]
    assert overall["answered"] + overall["unanswered"] == overall["complaints"] > 0
    assert overall["sla_met"] > 0 and overall["sla_missed"] > 0


def test_replies_exactly_at_the_target_count_as_met(seeded):
    _, log = seeded
    frame = expected.response_frame(log, FULL_START, FULL_END)
    exact = frame[frame.secs == frame.target]
    assert len(exact) >= 3  # the fixture has them, and the comparison above includes them


# --- backlog --------------------------------------------------------------------------------------------


def _check_backlog(items: list[dict], want: pd.DataFrame) -> None:
    assert [i["tweet_id"] for i in items] == list(want.tweet_id)
    for item, row in zip(items, want.itertuples(), strict=True):
        assert (item["topic"], item["urgency"], item["agency_handle"]) == (row.topic, row.urgency, row.agency)
        assert item["region"] == (None if pd.isna(row.region) else row.region)
        assert _ts(item["tweet_time"]) == row.tweet_time and item["tweet_time"].endswith("+07:00")
        assert _ts(item["due_at"]) == row.due and item["target_hours"] == row.target_h
        assert item["hours_overdue"] == pytest.approx((pd.Timestamp(AS_OF) - row.due).total_seconds() / 3600, abs=1e-3)


def test_backlog_is_most_urgent_then_oldest(seeded):
    client, log = seeded
    want = expected.backlog(log)
    assert len(want) > 20
    body = client.get("/v1/stats/backlog", params={"limit": 1000}, headers=AUTH).json()
    assert body["count"] == len(want) and body["has_more"] is False and body["agency"] is None
    _check_backlog(body["items"], want)
    first = client.get("/v1/stats/backlog", params={"limit": 7}, headers=AUTH).json()
    assert first["count"] == 7 and first["has_more"] is True
    _check_backlog(first["items"], want.head(7))


def test_backlog_per_agency(seeded):
    client, log = seeded
    for agency in expected.AGENCY_OF.values():
        if agency is None:
            continue
        want = expected.backlog(log, agency)
        body = client.get("/v1/stats/backlog", params={"agency": agency, "limit": 1000}, headers=AUTH).json()
        assert body["agency"] == agency and body["count"] == len(want)
        _check_backlog(body["items"], want)
        if len(want) > 2:
            few = client.get("/v1/stats/backlog", params={"agency": agency, "limit": 2}, headers=AUTH).json()
            assert few["has_more"] and [i["tweet_id"] for i in few["items"]] == list(want.tweet_id[:2])


# --- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("complaints", {"from": "yesterday"}, "from"),
        ("complaints", {"from": "2026-13-01"}, "from"),
        ("complaints", {"from": "2026-02-30"}, "from"),
        ("complaints", {"to": "2026-11-01T25:00:00"}, "to"),
        ("complaints", {"from": "2026-11-10", "to": "2026-11-01"}, "to"),
        ("complaints", {"from": "2026-11-10T10:00:00Z", "to": "2026-11-10T10:00:00Z"}, "to"),
        ("complaints", {"from": "1999-12-31"}, "from"),
        ("complaints", {"to": "2300-01-01"}, "to"),
        ("complaints", {"interval": "hour"}, "interval"),
        ("complaints", {"group_by": "city"}, "group_by"),
        ("complaints", {"from": "2001-01-01", "to": "2026-01-01", "interval": "day"}, "interval"),
        ("response-times", {"group_by": "region"}, "group_by"),
        ("response-times", {"from": "2026-11-10", "to": "2026-11-01"}, "to"),
        ("response-times", {"to": "not-a-date"}, "to"),
        ("backlog", {"agency": "@nobody"}, "agency"),
        ("backlog", {"agency": "bpbdjateng"}, "agency"),
        ("backlog", {"limit": 0}, "limit"),
        ("backlog", {"limit": 5000}, "limit"),
        ("backlog", {"limit": "many"}, "limit"),
    ],
)
def test_bad_stats_parameters_are_4xx_naming_the_field(seeded, path, params, field):
    client, _ = seeded
    r = client.get(f"/v1/stats/{path}", params=params, headers=AUTH)
    assert r.status_code == 422, r.text
    body = r.json()
    assert any(e["field"] == field and e["loc"] == ["query", field] for e in body["detail"]), body
    assert field in body["message"]


def test_stats_need_the_api_key(seeded):
    client, _ = seeded
    for path in ("complaints", "response-times", "backlog"):
        assert client.get(f"/v1/stats/{path}").status_code == 401
    assert client.post("/v1/replies", json={}).status_code == 401


# --- replies --------------------------------------------------------------------------------------------

TWEET_AT = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)


def _route(client: TestClient, tweet_id: str, created_at: datetime | None, received_at: datetime, **labels) -> None:
    row = routed_row(
        tweet_id,
        received_at,
        created_at,
        text="lampu jalan mati",
        topic=labels.get("topic", "infrastruktur"),
        urgency=labels.get("urgency", "darurat"),
        agency_handle="@dpubinmarckjtg",
        needs_review=False,
    )
    PredictionLog(client.app.state.log.engine).append([row])


def _reply_count(client: TestClient) -> int:
    with client.app.state.log.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(replies)).scalar_one()


REPLY = {
    "tweet_id": "x1",
    "agency_handle": "@dpubinmarckjtg",
    "replied_at": "2026-11-10T08:30:00+07:00",  # 01:30Z, half an hour after the tweet
    "reply_id": "rep-1",
}


def test_reply_is_stored_once_and_idempotent(client):
    _route(client, "x1", TWEET_AT, TWEET_AT + timedelta(minutes=1))
    first = client.post("/v1/replies", json=REPLY, headers=AUTH)
    assert first.status_code == 201, first.text
    stored = first.json()
    assert stored["created"] is True and stored["replied_at"] == "2026-11-10T08:30:00+07:00"
    assert stored["recorded_at"] == "2026-11-20T07:00:00+07:00"  # the fixed clock, in WIB
    again = client.post("/v1/replies", json=REPLY, headers=AUTH)
    assert again.status_code == 200 and again.json() == stored | {"created": False}
    same_instant = client.post("/v1/replies", json=REPLY | {"replied_at": "2026-11-10T01:30:00Z"}, headers=AUTH)
    assert same_instant.status_code == 200
    assert _reply_count(client) == 1


@pytest.mark.parametrize(
    "change", [{"agency_handle": "@bpbdjateng"}, {"replied_at": "2026-11-10T09:00:00+07:00"}, {"tweet_id": "x2"}]
)
def test_a_different_reply_under_a_stored_id_is_409(client, change):
    _route(client, "x1", TWEET_AT, TWEET_AT)
    _route(client, "x2", TWEET_AT, TWEET_AT)
    assert client.post("/v1/replies", json=REPLY, headers=AUTH).status_code == 201
    r = client.post("/v1/replies", json=REPLY | change, headers=AUTH)
    assert r.status_code == 409, r.text
    assert r.json()["detail"][0]["field"] == "reply_id" and r.json()["detail"][0]["type"] == "conflict"
    assert _reply_count(client) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tweet_id": "never-routed"}, "tweet_id"),
        ({"agency_handle": "@nobody"}, "agency_handle"),
        ({"agency_handle": "no-at-sign"}, "agency_handle"),
        ({"replied_at": "2026-11-10T07:59:59+07:00"}, "replied_at"),  # one second before the tweet
        ({"replied_at": "2026-11-10T08:30:00"}, "replied_at"),  # no offset
        ({"replied_at": "yesterday"}, "replied_at"),
        ({"replied_at": "2026-12-25T00:00:00Z"}, "replied_at"),  # in the future
        ({"reply_id": ""}, "reply_id"),
        ({"reply_id": "has spaces"}, "reply_id"),
        ({"tweet_id": None}, "tweet_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_replies_are_4xx_naming_the_field_and_write_nothing(client, change, field):
    _route(client, "x1", TWEET_AT, TWEET_AT + timedelta(minutes=1))
    r = client.post("/v1/replies", json=REPLY | change, headers=AUTH)
    assert r.status_code == 422, r.text
    assert any(e["field"] == field for e in r.json()["detail"]), r.json()
    assert _reply_count(client) == 0


def test_missing_reply_fields_are_named(client):
    r = client.post("/v1/replies", json={"tweet_id": "x1"}, headers=AUTH)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["detail"]} == {"agency_handle", "replied_at", "reply_id"}


def test_reply_time_is_checked_against_created_at_else_received_at(client):
    _route(client, "no-created", None, TWEET_AT)
    before = REPLY | {"tweet_id": "no-created", "replied_at": "2026-11-10T07:59:00+07:00"}
    assert client.post("/v1/replies", json=before, headers=AUTH).json()["detail"][0]["field"] == "replied_at"
    # A re-routing later does not move the tweet's time: the first routing counts.
    _route(client, "no-created", None, TWEET_AT + timedelta(hours=3))
    ok = REPLY | {"tweet_id": "no-created", "replied_at": "2026-11-10T08:00:00+07:00"}
    assert client.post("/v1/replies", json=ok, headers=AUTH).status_code == 201
    # created_at (posted) precedes routing: a reply after posting but before routing is fine.
    _route(client, "early", TWEET_AT - timedelta(hours=2), TWEET_AT)
    between = REPLY | {"tweet_id": "early", "reply_id": "rep-2", "replied_at": "2026-11-10T07:00:00+07:00"}
    assert client.post("/v1/replies", json=between, headers=AUTH).status_code == 201


def test_a_reply_takes_the_tweet_off_the_backlog_and_into_response_times(client):
    _route(client, "x1", TWEET_AT, TWEET_AT)
    backlog = client.get("/v1/stats/backlog", headers=AUTH).json()
    assert [i["tweet_id"] for i in backlog["items"]] == ["x1"] and backlog["items"][0]["hours_overdue"] > 0
    # Unanswered only: the group is there, overdue, with no reply times.
    times = client.get("/v1/stats/response-times", params={"group_by": "topic"}, headers=AUTH).json()
    (group,) = times["groups"]
    summary = (group["group"], group["complaints"], group["answered"], group["median_hours"])
    assert summary == ("infrastruktur", 1, 0, None)
    assert (group["sla_missed"], group["sla_pending"], group["within_target_share"]) == (1, 0, 0.0)
    assert client.post("/v1/replies", json=REPLY, headers=AUTH).status_code == 201
    assert client.get("/v1/stats/backlog", headers=AUTH).json()["items"] == []
    times = client.get("/v1/stats/response-times", params={"group_by": "urgency"}, headers=AUTH).json()
    assert times["groups"][0]["group"] == "darurat" and times["groups"][0]["median_hours"] == pytest.approx(0.5)
    assert times["groups"][0]["sla_met"] == 1 and times["groups"][0]["within_target_share"] == 1.0


# --- corrections through /v1/feedback -------------------------------------------------------------------


def test_feedback_becomes_the_final_label(client):
    _route(client, "x1", TWEET_AT, TWEET_AT, topic="infrastruktur", urgency="darurat")
    feedback = {
        "id": "x1",
        "text": "lampu jalan mati",
        "topic": "lainnya",
        "urgency": "rendah",
        "reviewer": "ayu",
    }
    assert client.post("/v1/feedback", json=feedback, headers=AUTH).status_code == 201
    with client.app.state.log.engine.connect() as conn:
        row = conn.execute(select(corrections)).one()
    assert (row.tweet_id, row.topic, row.urgency, row.lang, row.reviewer) == ("x1", "lainnya", "rendah", None, "ayu")
    stats = client.get("/v1/stats/complaints", params={"from": "2026-11-01"}, headers=AUTH).json()
    assert stats["totals"]["lainnya"] == 1 and stats["totals"]["complaints"] == 0
    assert client.get("/v1/stats/backlog", headers=AUTH).json()["items"] == []  # lainnya is not a complaint
    # A second review wins (latest), and the log file still gets every record.
    again = feedback | {"topic": "infrastruktur", "urgency": "tinggi", "lang": "jv"}
    assert client.post("/v1/feedback", json=again, headers=AUTH).status_code == 201
    stats = client.get("/v1/stats/complaints", params={"from": "2026-11-01", "group_by": "lang"}, headers=AUTH).json()
    assert stats["totals"]["groups"] == [{"group": "jv", "count": 1}]
