import json

from training.labelling.adjudicate import adjudicate, read_review_queue
from training.labelling.annotations import annotations_for, open_annotations
from training.labelling.feedback import import_feedback


def _record(**changes):
    record = {
        "id": "f1",
        "text": "banjir di Demak sudah sepinggang",
        "topic": "bencana",
        "urgency": "darurat",
        "lang": None,
        "reviewer": "rina",
        "predicted": {"topic": "lingkungan", "urgency": "tinggi", "topic_confidence": 0.41},
        "received_at": "2026-11-20T10:00:00+00:00",
    }
    record.update(changes)
    return record


def _write(path, records, tail=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail, encoding="utf-8")


def test_feedback_becomes_annotations_by_feedback_reviewer(tmp_path):
    conn = open_annotations(tmp_path / "a.sqlite")
    path = tmp_path / "feedback.jsonl"
    _write(path, [_record(), _record(id="f2", text="pdam mati", topic="utilitas", urgency="tinggi", lang="id")])
    result = import_feedback(conn, path)
    assert (result.imported, result.errors) == (2, [])
    first, second = annotations_for(conn)
    assert (first.tweet_id, first.annotator, first.source) == ("f1", "feedback:rina", "feedback-api")
    assert first.lang is None and first.region == "Kabupaten Demak"
    assert first.labelled_at == "2026-11-20T10:00:00+00:00"
    assert second.lang == "id"
    # Importing again is a no-op; a later correction by the same reviewer wins.
    _write(path, [_record(), _record(urgency="tinggi")])
    import_feedback(conn, path)
    assert [a.urgency for a in annotations_for(conn, ["f1"])] == ["tinggi"]


def test_bad_lines_are_reported_and_a_torn_last_line_is_ignored(tmp_path):
    conn = open_annotations(tmp_path / "a.sqlite")
    path = tmp_path / "feedback.jsonl"
    good, bad_topic, no_reviewer = _record(), _record(id="f2", topic="banjir"), _record(id="f3", reviewer="")
    lines = [json.dumps(good), "not json", json.dumps(bad_topic), json.dumps(no_reviewer)]
    path.write_text("\n".join(lines) + '\n{"id": "f4", "te', encoding="utf-8")  # torn: still being written
    result = import_feedback(conn, path)
    assert result.imported == 1
    assert len(result.errors) == 3
    assert "feedback.jsonl:2:" in result.errors[0]
    assert "topic: unknown label id 'banjir'" in result.errors[1]
    assert "missing field(s): reviewer" in result.errors[2]
    assert import_feedback(conn, tmp_path / "none.jsonl").imported == 0


def test_feedback_without_language_goes_to_review(tmp_path, label_store):
    conn = open_annotations(tmp_path / "a.sqlite")
    path = tmp_path / "feedback.jsonl"
    _write(path, [_record()])
    import_feedback(conn, path)
    result = adjudicate(conn, label_store, tmp_path / "review.jsonl")
    assert result.gold == []
    (item,) = read_review_queue(tmp_path / "review.jsonl")
    assert item["disputed"] == {"lang": "not given"} and item["majority"]["topic"] == "bencana"
