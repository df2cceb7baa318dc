import json
import xml.etree.ElementTree as ET

import pytest

from training.labelling.annotations import annotations_for, open_annotations
from training.labelling.labelstudio import export_tasks, import_annotations, labelling_config, task_for
from training.labelling.queue import QueueItem
from training.taxonomy import default_taxonomy

ITEMS = [
    QueueItem(
        "q1",
        "banjir masuk rumah tolong",
        "Kabupaten Demak",
        "2026-11-01T08:00:00Z",
        "twitter-api-v2",
        "uncertainty:margin",
        1,
        0.7,
        {
            "predictions": {
                "topic": [{"label": "bencana", "confidence": 0.6}, {"label": "lingkungan", "confidence": 0.3}],
                "urgency": [{"label": "darurat", "confidence": 0.8}],
            },
            "model_version": {"topic": "kemala-topic/3", "urgency": "kemala-urgency/2"},
            "rule_hits": {"bencana": ["banjir"]},
            "lang": "id",
        },
    ),
    QueueItem(
        "q2",
        "pdam mati telung dina",
        None,
        None,
        "twitter-api-v2",
        "cold-start",
        2,
        1.0,
        {"rule_hits": {"utilitas": ["pdam"]}, "lang": "jv"},
    ),
    QueueItem("q3", "ora ono opo opo", None, None, "twitter-api-v2", "random", 3, None, {}),
]


def test_config_has_three_single_choices_from_the_taxonomy():
    root = ET.fromstring(labelling_config())
    tax = default_taxonomy()
    choices = {c.get("name"): c for c in root.iter("Choices")}
    assert list(choices) == ["topic", "urgency", "lang"]
    for name, element in choices.items():
        assert element.get("toName") == "text" and element.get("choice") == "single-radio"
        assert [c.get("value") for c in element] == tax.labels_for(name)
    assert root.find("Text").get("value") == "$text"


def test_tasks_carry_data_and_predictions():
    first, second, third = (task_for(i) for i in ITEMS)
    assert first["data"] == {
        "text": "banjir masuk rumah tolong",
        "tweet_id": "q1",
        "region": "Kabupaten Demak",
        "source": "twitter-api-v2",
        "created_at": "2026-11-01T08:00:00Z",
    }
    (pred,) = first["predictions"]
    assert pred["model_version"] == "topic=kemala-topic/3;urgency=kemala-urgency/2;lang=pool-langid"
    assert pred["score"] == pytest.approx(0.7)
    by_field = {r["from_name"]: r for r in pred["result"]}
    assert by_field["topic"]["value"] == {"choices": ["bencana"]} and by_field["topic"]["to_name"] == "text"
    assert by_field["urgency"]["type"] == "choices" and by_field["lang"]["value"]["choices"] == ["id"]
    (rules,) = second["predictions"]
    assert rules["model_version"] == "topic=keyword-rules;lang=pool-langid" and "score" not in rules
    assert second["data"]["region"] == ""
    assert third["predictions"] == []


def _simulate_labelstudio(tasks):
    """What Label Studio's JSON export looks like after annotators worked on the imported tasks."""
    for n, task in enumerate(tasks, start=1):
        task["id"] = 100 + n
        accepted = task["predictions"][0]["result"] if task["predictions"] else []
        full = {r["from_name"]: r for r in accepted}
        full.setdefault("urgency", {"from_name": "urgency", "type": "choices", "value": {"choices": ["sedang"]}})
        full.setdefault("topic", {"from_name": "topic", "type": "choices", "value": {"choices": ["lainnya"]}})
        task["annotations"] = [
            {
                "id": 1000 + n,
                "completed_by": {"id": 7, "email": "ana@example.org"},
                "result": list(full.values()),
                "was_cancelled": False,
                "created_at": "2026-11-02T09:00:00.000000Z",
                "updated_at": "2026-11-02T09:00:00.000000Z",
            },
            {
                "id": 2000 + n,
                "completed_by": 9,
                "result": [
                    {"from_name": "topic", "to_name": "text", "type": "choices", "value": {"choices": ["sosial"]}},
                    {"from_name": "urgency", "to_name": "text", "type": "choices", "value": {"choices": ["tinggi"]}},
                ],
                "was_cancelled": n == 3,
                "created_at": "2026-11-02T10:00:00.000000Z",
            },
        ]
    return tasks


def test_round_trip_through_label_studio(tmp_path):
    tasks_path = export_tasks(ITEMS, tmp_path / "tasks.json", tmp_path / "config.xml")
    ET.fromstring((tmp_path / "config.xml").read_text(encoding="utf-8"))
    exported = _simulate_labelstudio(json.loads(tasks_path.read_text(encoding="utf-8")))
    export_path = tmp_path / "export.json"
    export_path.write_text(json.dumps(exported), encoding="utf-8")

    conn = open_annotations(tmp_path / "a.sqlite")
    result = import_annotations(conn, export_path)
    assert (result.imported, result.cancelled, result.errors) == (5, 1, [])
    rows = {(a.tweet_id, a.annotator): a for a in annotations_for(conn)}
    ana = rows[("q1", "ana@example.org")]
    assert (ana.topic, ana.urgency, ana.lang) == ("bencana", "darurat", "id")
    assert (ana.text, ana.region, ana.source) == ("banjir masuk rumah tolong", "Kabupaten Demak", "twitter-api-v2")
    assert ana.created_at == "2026-11-01T08:00:00Z" and ana.labelled_at.startswith("2026-11-02T09:00")
    assert rows[("q2", "ana@example.org")].topic == "utilitas"
    assert rows[("q2", "ana@example.org")].region is None
    other = rows[("q1", "9")]
    assert (other.topic, other.urgency, other.lang) == ("sosial", "tinggi", None)
    assert ("q3", "9") not in rows  # cancelled

    assert import_annotations(conn, export_path).imported == 5  # idempotent: same rows replaced
    assert len(annotations_for(conn)) == 5


def test_import_reports_bad_annotations(tmp_path):
    tasks = [
        {"id": 1, "data": {"text": "x"}, "annotations": []},
        {
            "id": 2,
            "data": {"text": "jalan rusak", "tweet_id": "z2"},
            "annotations": [
                {"id": 5, "completed_by": 1, "result": []},
                {
                    "id": 6,
                    "completed_by": 1,
                    "result": [
                        {"from_name": "topic", "type": "choices", "value": {"choices": ["jalan"]}},
                        {"from_name": "urgency", "type": "choices", "value": {"choices": ["sedang"]}},
                    ],
                },
            ],
        },
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    result = import_annotations(open_annotations(tmp_path / "a.sqlite"), path)
    assert result.imported == 0
    assert [e.split(": ", 1)[1] for e in result.errors] == [
        "task 1: data.tweet_id: missing",
        "task 2 annotation 5: topic, urgency: not chosen",
        "task 2 annotation 6: tweet 'z2': topic: unknown label id 'jalan' (allowed: "
        + ", ".join(default_taxonomy().topic_ids)
        + ")",
    ]
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="list of tasks"):
        import_annotations(open_annotations(tmp_path / "a.sqlite"), path)
