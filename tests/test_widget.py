import pytest

from training.labelling.annotations import annotations_for, open_annotations, save_annotation
from training.labelling.queue import QueueItem, write_queue
from training.labelling.widget import LabellingWidget, settings_from_env

ITEMS = [
    QueueItem(
        "q1",
        "banjir masuk rumah <tolong>",
        "Kabupaten Demak",
        None,
        "twitter-api-v2",
        "cold-start",
        1,
        1.0,
        {
            "rule_hits": {"bencana": ["banjir"]},
            "lang": "id",
            "predictions": {"topic": [{"label": "bencana", "confidence": 0.61}]},
        },
    ),
    QueueItem("q2", "pdam mati telung dina", None, None, "twitter-api-v2", "cold-start", 2, 1.0, {}),
    QueueItem("q3", "matur nuwun pak", None, None, "twitter-api-v2", "cold-start", 3, 1.0, {}),
]


@pytest.fixture
def conn(tmp_path):
    return open_annotations(tmp_path / "a.sqlite")


def _label(w, topic, urgency, lang):
    w.buttons["topic"][topic].click()
    w.buttons["urgency"][urgency].click()
    w.buttons["lang"][lang].click()


def test_shows_tweet_region_and_suggestions(conn):
    w = LabellingWidget(ITEMS, conn, "ana")
    assert w.current.tweet_id == "q1"
    assert "banjir masuk rumah &lt;tolong&gt;" in w.tweet.value  # escaped
    assert "Kabupaten Demak" in w.tweet.value
    assert "bencana (0.61)" in w.tweet.value and "bencana ← banjir" in w.tweet.value
    assert "done 0 / 3" in w.header.value
    assert list(w.buttons["urgency"]) == ["darurat", "tinggi", "sedang", "rendah"]


def test_three_clicks_save_and_advance(conn):
    w = LabellingWidget(ITEMS, conn, "ana")
    w.buttons["topic"]["bencana"].click()
    assert w.buttons["topic"]["bencana"].button_style == "success"
    w.choose("urgency", "darurat")
    assert annotations_for(conn) == []  # not saved until every field is chosen
    w.choose("lang", "id")
    (saved,) = annotations_for(conn)
    assert (saved.tweet_id, saved.annotator, saved.topic, saved.urgency, saved.lang) == (
        "q1",
        "ana",
        "bencana",
        "darurat",
        "id",
    )
    assert (saved.region, saved.source, saved.text) == ("Kabupaten Demak", "twitter-api-v2", ITEMS[0].text)
    assert w.current.tweet_id == "q2"
    assert all(b.button_style == "" for b in w.buttons["topic"].values())
    assert "saved q1" in w.status.value and "done 1 / 3" in w.header.value
    assert "bencana 1" in w.progress_box.value
    report = w.progress()
    assert (report["done"], report["queued"]) == (1, 3)
    assert report["per_class"]["urgency"]["darurat"] == 1


def test_resumes_where_the_annotator_stopped(conn):
    save_annotation(conn, "q1", "ana", "bencana", "darurat", "id", ITEMS[0].text, "twitter-api-v2")
    save_annotation(conn, "q2", "budi", "utilitas", "tinggi", "jv", ITEMS[1].text, "twitter-api-v2")
    assert LabellingWidget(ITEMS, conn, "ana").current.tweet_id == "q2"
    assert LabellingWidget(ITEMS, conn, "budi").current.tweet_id == "q1"  # progress is per annotator


def test_skip_back_and_finish(conn):
    w = LabellingWidget(ITEMS, conn, "ana")
    w.skip_button.click()
    assert w.current.tweet_id == "q2" and "skipped q1" in w.status.value
    _label(w, "utilitas", "tinggi", "jv")
    assert w.current.tweet_id == "q3"
    w.back_button.click()  # back to q2, with the saved labels selected
    assert w.current.tweet_id == "q2"
    assert w.choice == {"topic": "utilitas", "urgency": "tinggi", "lang": "jv"}
    assert w.buttons["lang"]["jv"].button_style == "success"
    w.choose("urgency", "sedang")  # one click corrects one field, and saves
    assert [a.urgency for a in annotations_for(conn, ["q2"])] == ["sedang"]
    assert w.current.tweet_id == "q3"
    _label(w, "lainnya", "rendah", "jv")
    assert w.current.tweet_id == "q1"  # the skipped tweet comes back
    _label(w, "bencana", "darurat", "id")
    assert w.finished and w.current is None
    assert "All queued tweets are labelled" in w.tweet.value
    assert all(b.disabled for b in w.buttons["topic"].values())
    w.choose("topic", "bencana")  # nothing on screen: ignored
    assert len(annotations_for(conn)) == 3


def test_bad_choice_and_annotator(conn):
    w = LabellingWidget(ITEMS, conn, "ana")
    with pytest.raises(ValueError, match="topic: unknown label id"):
        w.choose("topic", "banjir")
    with pytest.raises(ValueError, match="field"):
        w.choose("region", "x")
    with pytest.raises(ValueError, match="annotator"):
        LabellingWidget(ITEMS, conn, " ")
    w.back()
    assert "nothing to go back to" in w.status.value


def test_from_env_reads_paths_and_annotator(tmp_path):
    queue = write_queue(tmp_path / "queue.jsonl", ITEMS)
    env = {"KEMALA_QUEUE": str(queue), "KEMALA_ANNOTATIONS": str(tmp_path / "s.sqlite"), "KEMALA_ANNOTATOR": "cici"}
    w = LabellingWidget.from_env(env)
    assert (w.annotator, len(w.items)) == ("cici", 3)
    assert (tmp_path / "s.sqlite").exists()
    defaults = settings_from_env({})
    assert defaults["queue_path"].name == "queue.jsonl" and defaults["annotator"]
