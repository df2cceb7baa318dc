"""The routing API: every endpoint, auth, readiness, reload, feedback, and every bad-input case."""

from __future__ import annotations

import gc
import json
import shutil
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.feedback import read_records
from serving.settings import Settings
from tests.conftest import TINY_ROWS
from training.config import LinearSettings
from training.models import build_classifier
from training.normalize import NormalizerConfig

KEY = "test-key"
AUTH = {"X-API-Key": KEY}


def _export(root: Path, tasks=("topic", "urgency", "lang")) -> Path:
    """A tiny exported model folder per task (the layout `kemala export` writes)."""
    column = {"topic": 1, "urgency": 2, "lang": 3}
    texts = [r[0] for r in TINY_ROWS]
    for task in tasks:
        y = [r[column[task]] for r in TINY_ROWS]
        clf = build_classifier(
            "linear", sorted(set(y)), NormalizerConfig(), LinearSettings(calibration_cv=2).model_dump()
        )
        clf.task = task
        clf.fit(texts, y)
        clf.save(root / task)
        (root / task / "export.json").write_text(
            json.dumps(
                {
                    "task": task,
                    "registered_model": f"kemala-{task}",
                    "version": "7",
                    "run_id": "r1",
                    "metrics": {"test_macro_f1": 0.5},
                }
            )
        )
    return root


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    return _export(tmp_path_factory.mktemp("models"))


@pytest.fixture
def settings(tmp_path, models_dir) -> Settings:
    return Settings(
        api_keys=[KEY],
        models_dir=models_dir,
        database_url=f"sqlite:///{tmp_path / 'log.db'}",
        feedback_path=tmp_path / "feedback.jsonl",
        batch_limit=4,
        max_text_chars=200,
    )


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as c:
        yield c


def test_health_and_readiness(client):
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_not_ready_until_models_load(settings, tmp_path):
    broken = settings.model_copy(update={"models_dir": tmp_path / "nothing"})
    with TestClient(create_app(broken)) as c:
        ready = c.get("/health/ready")
        assert ready.status_code == 503 and "no exported model" in ready.json()["detail"]
        routed = c.post("/v1/route", json={"text": "banjir"}, headers=AUTH)
        assert routed.status_code == 503 and "models not loaded" in routed.json()["detail"]


def test_startup_objects_are_frozen_out_of_the_collector_while_serving(settings):
    with TestClient(create_app(settings)):
        assert gc.get_freeze_count() > 0  # models and modules are out of the full collections
    assert gc.get_freeze_count() == 0  # shutdown gives them back
    with TestClient(create_app(settings.model_copy(update={"freeze_gc": False}))):
        assert gc.get_freeze_count() == 0


def test_route_answers_the_contract(client):
    r = client.post("/v1/route", json={"text": "banjir masuk rumah tolong di Demak", "id": "t-1"}, headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {
        "id",
        "topic",
        "urgency",
        "lang",
        "region",
        "agency",
        "needs_review",
        "review_reasons",
        "model",
    }
    assert body["id"] == "t-1" and body["region"] == "Kabupaten Demak"
    assert body["topic"]["id"] in {"bencana", "infrastruktur", "utilitas", "lainnya"}
    assert 0 <= body["topic"]["confidence"] <= 1 and body["lang"] in {"id", "jv", "campur"}
    assert body["model"] == {"topic_version": "kemala-topic/7", "urgency_version": "kemala-urgency/7"}
    if body["urgency"]["id"] == "darurat":
        assert body["needs_review"] and any("darurat" in r for r in body["review_reasons"])
    assert r.headers["X-Request-ID"]


def test_lainnya_has_no_agency_and_low_confidence_needs_review(settings):
    strict = settings.model_copy(update={"topic_threshold": 1.0})
    with TestClient(create_app(strict)) as c:
        body = c.post("/v1/route", json={"text": "terima kasih pak gubernur"}, headers=AUTH).json()
    assert body["topic"]["id"] == "lainnya" and body["agency"] is None
    assert body["needs_review"] and body["review_reasons"][0].startswith("topic confidence")


def test_batch_answers_in_order_with_one_model_call(client, monkeypatch):
    from serving.runtime import RoutingModels

    calls = []
    original = RoutingModels.predict
    monkeypatch.setattr(RoutingModels, "predict", lambda self, texts: calls.append(len(texts)) or original(self, texts))
    items = [
        {"id": "a", "text": "listrik padam dari pagi pln"},
        {"id": "b", "text": "terima kasih pak gubernur"},
        {"id": "c", "text": "ꦧꦚ꧀ꦗꦶꦂ 😭 banjir"},
    ]
    r = client.post("/v1/route/batch", json={"items": items}, headers=AUTH)
    assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == ["a", "b", "c"]
    assert calls == [3]


def test_every_routed_tweet_is_logged(client):
    client.post("/v1/route/batch", json={"items": [{"text": "pdam mati"}, {"text": "jalan rusak"}]}, headers=AUTH)
    client.post("/v1/route", json={"text": "banjir", "created_at": "2026-11-01T08:00:00+07:00"}, headers=AUTH)
    assert client.app.state.log.count() == 3


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "   \n\t"}, "text"),
        ({"text": "x" * 201}, "text"),
        ({"text": 42}, "text"),
        ({}, "text"),
        ({"text": "ok", "created_at": "yesterday"}, "created_at"),
        ({"text": "a\u0000b"}, "text"),
        ({"text": "ok", "colour": "red"}, "colour"),
        ({"text": "ok", "id": "has spaces and /"}, "id"),
    ],
)
def test_bad_single_input_is_4xx_naming_the_field(client, payload, field):
    r = client.post("/v1/route", json=payload, headers=AUTH)
    assert r.status_code == 422, r.text
    assert any(e["field"] == field for e in r.json()["detail"]), r.json()


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"text": "broken', "body"),
        (b'["not", "an", "object"]', "body"),
        (b'{"text": "lone \\ud83d surrogate"}', "text"),
        (b"\xff\xfe not utf-8", "body"),
    ],
)
def test_malformed_bodies_are_4xx(client, raw, field):
    r = client.post("/v1/route", content=raw, headers=AUTH | {"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["message"]


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([{"text": "ok"}, {"text": " "}], "items.1.text"),
        ([{"text": "ok"}, {"text": "ok"}, {"text": "x" * 300}], "items.2.text"),
        ([{"text": "ok"}] * 5, "items"),
        ([], "items"),
    ],
)
def test_bad_batches_name_the_item(client, items, field):
    r = client.post("/v1/route/batch", json={"items": items}, headers=AUTH)
    assert r.status_code == 422
    detail = r.json()["detail"]
    fields = [e["field"] for e in detail]
    assert field in fields, detail


def test_unicode_is_valid_input(client):
    for text in ["ꦥꦸꦤꦶꦏ ꦢꦭꦤ꧀ ꦫꦸꦱꦏ꧀", "🔥🔥🔥 kebakaran", "Ünïcödé ça va 中文"]:
        assert client.post("/v1/route", json={"text": text}, headers=AUTH).status_code == 200


def test_auth_is_required_except_for_health(client):
    assert client.post("/v1/route", json={"text": "x"}).status_code == 401
    assert client.post("/v1/route", json={"text": "x"}, headers={"X-API-Key": "wrong"}).status_code == 401
    ok = client.post("/v1/route", json={"text": "x"}, headers={"Authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200
    for path in ("/v1/taxonomy", "/v1/model"):
        assert client.get(path).status_code == 401
    assert client.get("/health/ready").status_code == 200


def test_production_refuses_to_start_without_keys():
    with pytest.raises(ValueError, match="KEMALA_API_KEYS"):
        Settings(environment="production", api_keys=[])


def test_taxonomy_and_model_endpoints(client):
    tax = client.get("/v1/taxonomy", headers=AUTH).json()
    assert [t["id"] for t in tax["topics"]][-1] == "lainnya" and tax["topics"][-1]["agency"] is None
    assert [u["id"] for u in tax["urgency"]] == ["darurat", "tinggi", "sedang", "rendah"]
    model = client.get("/v1/model", headers=AUTH).json()
    assert {m["task"] for m in model["models"]} == {"topic", "urgency", "lang"}
    assert model["models"][0]["version"] == "kemala-topic/7" and model["models"][0]["metrics"]["test_macro_f1"] == 0.5


def test_feedback_is_validated_and_persisted(client, settings):
    good = {
        "id": "t-9",
        "text": "jalan rusak",
        "topic": "infrastruktur",
        "urgency": "sedang",
        "reviewer": "ayu",
        "predicted": {"topic": "transportasi", "urgency": "sedang"},
    }
    r = client.post("/v1/feedback", json=good, headers=AUTH)
    assert r.status_code == 201 and r.json()["stored"]
    bad = client.post("/v1/feedback", json=good | {"topic": "roads"}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "topic"
    records = read_records(settings.feedback_path)
    assert len(records) == 1 and records[0]["topic"] == "infrastruktur" and records[0]["reviewer"] == "ayu"


def test_concurrent_feedback_writers_lose_nothing(client, settings):
    def post(i):
        client.post(
            "/v1/feedback",
            json={"id": f"f{i}", "text": "x", "topic": "lainnya", "urgency": "rendah", "reviewer": "r"},
            headers=AUTH,
        )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(40)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(r["id"] for r in read_records(settings.feedback_path)) == sorted(f"f{i}" for i in range(40))


def test_reload_swaps_models_and_a_failed_reload_keeps_serving(client, tmp_path, models_dir):
    newer = tmp_path / "newer"
    shutil.copytree(models_dir, newer)
    for task in ("topic", "urgency"):
        meta = json.loads((newer / task / "export.json").read_text()) | {"version": "8"}
        (newer / task / "export.json").write_text(json.dumps(meta))
    ok = client.post("/v1/admin/reload", json={"models_dir": str(newer)}, headers=AUTH)
    assert ok.status_code == 200 and ok.json()["models"]["models"][0]["version"] == "kemala-topic/8"
    broken = tmp_path / "broken"
    shutil.copytree(newer, broken)
    (broken / "topic" / "pipeline.joblib").write_bytes(b"not a model")
    failed = client.post("/v1/admin/reload", json={"models_dir": str(broken)}, headers=AUTH)
    assert failed.status_code == 409 and "still serving" in failed.json()["detail"]
    routed = client.post("/v1/route", json={"text": "banjir"}, headers=AUTH).json()
    assert routed["model"]["topic_version"] == "kemala-topic/8"


def test_requests_in_flight_finish_on_the_old_models(client, tmp_path, models_dir):
    """A request holds the models it started with even if a reload swaps them meanwhile."""
    holder = client.app.state.holder
    before = holder.current
    newer = tmp_path / "n"
    shutil.copytree(models_dir, newer)
    holder.reload(client.app.state.settings, newer)
    assert holder.current is not before and before.predict(["banjir"]).labels["topic"]  # old object still works


def test_concurrent_single_requests_are_batched_and_answered_correctly(settings):
    """Fifty concurrent /v1/route calls share model calls and each gets its own tweet's answer."""
    import asyncio

    import httpx

    app = create_app(settings)
    texts = [r[0] for r in TINY_ROWS] * 2

    async def scenario():
        app.state.holder.reload(settings)
        await app.state.batcher.start()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            responses = await asyncio.gather(
                *(client.post("/v1/route", json={"text": t, "id": f"c{i}"}, headers=AUTH) for i, t in enumerate(texts))
            )
        await app.state.batcher.stop()
        return responses

    responses = asyncio.run(scenario())
    assert all(r.status_code == 200 for r in responses)
    assert [r.json()["id"] for r in responses] == [f"c{i}" for i in range(len(texts))]
    alone = app.state.holder.current.predict(texts)
    assert [r.json()["topic"]["id"] for r in responses] == alone.labels["topic"]
    assert app.state.batcher.batches < len(texts)  # requests were coalesced
