from datetime import date

import pytest

from training.labelling.adjudicate import (
    adjudicate,
    append_gold,
    decide,
    gold_file_for,
    read_review_queue,
    resolve,
)
from training.labelling.annotations import Annotation, open_annotations, save_annotations
from training.labels import load_labels

DAY = date(2026, 11, 5)


def _ann(tweet_id, who, topic, urgency, lang, source="twitter-api-v2", region=None, text=None):
    return Annotation(
        tweet_id, who, topic, urgency, lang, text or f"tweet {tweet_id}", "2026-11-01T00:00:00Z", source, region
    )


@pytest.fixture
def conn(tmp_path):
    conn = open_annotations(tmp_path / "a.sqlite")
    save_annotations(
        conn,
        [
            _ann("x1", "ana", "bencana", "darurat", "jv", region="Kabupaten Demak"),
            _ann("x1", "budi", "bencana", "darurat", "jv", region="Kabupaten Demak"),
            _ann("x2", "ana", "infrastruktur", "sedang", "id"),
            _ann("x2", "budi", "transportasi", "sedang", "id"),
            _ann("x3", "ana", "utilitas", "tinggi", "id"),
            _ann("x3", "budi", "utilitas", "sedang", "id"),
            _ann("x3", "cici", "utilitas", "tinggi", "campur"),
            _ann("x4", "feedback:rina", "sosial", "tinggi", None, source="feedback-api"),
            _ann("t000", "ana", "lainnya", "rendah", "id"),  # already gold in the fixture store
        ],
    )
    return conn


def test_decide_majority_tie_and_missing():
    anns = [_ann("x", "a", "bencana", "darurat", "id"), _ann("x", "b", "bencana", "tinggi", None)]
    d = decide(anns)
    assert d.labels == {"topic": "bencana", "urgency": None, "lang": "id"}
    assert d.disputed == {"urgency": "tie"}
    three = [*anns, _ann("x", "c", "lainnya", "sedang", "jv")]
    assert decide(three).disputed == {"urgency": "tie", "lang": "tie"}
    four = [*three, _ann("x", "d", "bencana", "darurat", "jv")]
    assert decide(four).disputed == {"urgency": "no majority"}  # 2 of 4 is not more than half
    assert decide(four).labels["lang"] == "jv"
    assert decide([_ann("x", "a", "bencana", "darurat", None)]).disputed == {"lang": "not given"}


def test_adjudicate_writes_majority_gold_and_flags_disputes(conn, label_store, tmp_path):
    queue = tmp_path / "review.jsonl"
    result = adjudicate(conn, label_store, queue, day=DAY)
    assert result.gold_file == label_store / "corpus" / "annotated-20261105.jsonl"
    gold = {r.id: r for r in load_labels(result.gold_file)}
    assert set(gold) == {"x1", "x3"}
    assert gold["x1"].annotator == "adjudicated:majority"
    assert (gold["x1"].source, gold["x1"].region) == ("twitter-api-v2", "Kabupaten Demak")
    assert (gold["x3"].urgency, gold["x3"].lang) == ("tinggi", "id")
    flagged = {item["tweet_id"]: item for item in read_review_queue(queue)}
    assert set(flagged) == {"x2", "x4"}
    assert flagged["x2"]["disputed"] == {"topic": "tie"}
    assert flagged["x2"]["majority"]["urgency"] == "sedang"
    assert flagged["x4"]["disputed"] == {"lang": "not given"} and flagged["x4"]["source"] == "feedback-api"
    assert len(flagged["x2"]["annotations"]) == 2
    assert result.already_in_store == 1
    load_labels(label_store)  # the whole store still validates: no duplicate ids

    again = adjudicate(conn, label_store, queue, day=DAY)
    assert again.gold == [] and again.already_in_store == 3
    assert len(load_labels(result.gold_file)) == 2


def test_min_annotators_keeps_single_labels_waiting(conn, label_store, tmp_path):
    result = adjudicate(conn, label_store, tmp_path / "review.jsonl", min_annotators=2, day=DAY)
    assert {r.id for r in result.gold} == {"x1", "x3"}
    assert result.pending == 1  # x4 has one annotator
    assert [i["tweet_id"] for i in result.flagged] == ["x2"]


def test_resolve_appends_reviewer_gold_and_leaves_the_queue(conn, label_store, tmp_path):
    queue = tmp_path / "review.jsonl"
    adjudicate(conn, label_store, queue, day=DAY)
    row = resolve(conn, "x2", "rina", "infrastruktur", "sedang", "id", label_store, queue, day=DAY)
    assert row.annotator == "adjudicated:rina" and row.source == "twitter-api-v2"
    gold = {r.id: r for r in load_labels(gold_file_for(label_store, DAY))}
    assert set(gold) == {"x1", "x3", "x2"}  # appended, earlier rows kept
    assert [i["tweet_id"] for i in read_review_queue(queue)] == ["x4"]
    with pytest.raises(ValueError, match="already in the label store"):
        resolve(conn, "x2", "rina", "infrastruktur", "sedang", "id", label_store, queue, day=DAY)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("x4", "rina", "sosiall", "tinggi", "id"), "topic: unknown label id 'sosiall'"),
        (("x4", "rina", "sosial", "tinggi", "xx"), "lang: unknown label id"),
        (("x4", "rina", "sosial", "tinggi", None), "lang: a gold row needs a language"),
        (("nobody", "rina", "sosial", "tinggi", "id"), "has no annotations"),
        (("x4", " ", "sosial", "tinggi", "id"), "reviewer"),
    ],
)
def test_resolve_rejects_bad_input_naming_the_field(conn, label_store, tmp_path, args, message):
    with pytest.raises(ValueError, match=message):
        resolve(conn, *args, store=label_store, review_queue=None, day=DAY)


def test_append_gold_skips_ids_in_the_store(label_store):
    rows = load_labels(label_store)[:2]
    target, written = append_gold(label_store, rows, DAY)
    assert written == [] and not target.exists()
