"""End to end: API v2 sample -> pool -> queue -> labels -> agreement -> adjudicate -> retrain -> gate logged."""

import json

import pytest

from mlflow import MlflowClient
from training.labelling.adjudicate import adjudicate
from training.labelling.agreement import agreement_report
from training.labelling.annotations import open_annotations, save_annotation
from training.labelling.ingest import ingest
from training.labelling.pool import open_pool, representatives
from training.labelling.queue import build_queue
from training.labels import load_labels
from training.retrain import NOT_PROMOTED, PROMOTED, retrain

pytestmark = pytest.mark.slow

TWEETS = [
    ("901", "listrik padam lagi dari pagi pln tolong", "utilitas", "sedang"),
    ("902", "banjir masuk rumah air naik terus tolong evakuasi", "bencana", "darurat"),
    ("903", "jalan rusak parah di desa kami banyak lubang", "infrastruktur", "sedang"),
    ("904", "terima kasih pak gubernur pelayanan mantap", "lainnya", "rendah"),
]


class _FixedLang:
    def predict(self, texts):
        return ["id"] * len(texts)


def _api_page(tmp_path):
    page = {
        "data": [
            {"id": i, "text": t, "author_id": "u1", "created_at": "2026-11-20T01:00:00.000Z"} for i, t, *_ in TWEETS
        ],
        "includes": {"users": [{"id": "u1", "username": "warga"}]},
        "meta": {"result_count": len(TWEETS)},
    }
    path = tmp_path / "page1.json"
    path.write_text(json.dumps(page))
    return path


def test_labelling_round_trip_registers_a_new_version(tmp_path, label_store, fast_config, tracking_uri):
    from training.promote import promote
    from training.train import train

    train(fast_config, tracking_uri)  # an existing champion to gate against
    promote("topic", store=label_store, tracking_uri=tracking_uri)

    pool_path = tmp_path / "pool.sqlite"
    report = ingest([_api_page(tmp_path)], pool=pool_path, lang_identifier=_FixedLang())
    pool = open_pool(pool_path)
    assert len(representatives(pool)) == 4 and report is not None

    annotations = open_annotations(tmp_path / "annotations.sqlite")
    queue = build_queue(pool, 4, "random", annotations_conn=annotations)
    assert {q.tweet_id for q in queue} == {t[0] for t in TWEETS}
    truth = {i: (topic, urgency) for i, _, topic, urgency in TWEETS}
    for item in queue:
        for annotator in ("ana", "budi"):
            topic, urgency = truth[item.tweet_id]
            save_annotation(annotations, item.tweet_id, annotator, topic, urgency, "id", item.text, "twitter-api-v2")
    agreement = agreement_report(annotations)
    assert agreement["fields"]["topic"]["alpha"] == pytest.approx(1.0) and agreement["multiply_annotated"] == 4

    result = adjudicate(annotations, store=label_store, review_queue=tmp_path / "review.jsonl", min_annotators=2)
    assert result is not None
    gold_ids = {r.id for r in load_labels(label_store)}
    assert {t[0] for t in TWEETS} <= gold_ids

    outcome = retrain(
        ("topic",), label_store, tmp_path / "reports", tracking_uri=tracking_uri, overrides=("linear.calibration_cv=2",)
    )
    assert outcome.exit_code in (PROMOTED, NOT_PROMOTED)
    decision = outcome.decisions["topic"]
    assert decision.challenger_version == "2"
    tags = MlflowClient().get_model_version("kemala-topic", "2").tags
    assert tags["promotion.decision"] in {"promoted", "rejected"}
    assert outcome.summary.exists() and outcome.reports["topic"].exists()
    run = MlflowClient().get_run(MlflowClient().get_model_version("kemala-topic", "2").run_id)
    assert run.data.tags["data.digest"] and run.data.tags["git.commit"]
