from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import TINY_ROWS
from training.config import LinearSettings
from training.labelling.annotations import open_annotations, save_annotation
from training.labelling.pool import open_pool
from training.labelling.queue import (
    QueueItem,
    build_queue,
    read_queue,
    rule_hits,
    uncertainty,
    write_queue,
)
from training.models import build_classifier
from training.normalize import NormalizerConfig, normalize

POOL = [
    # tweet_id, text, region, lang, representative
    ("p1", "banjir masuk rumah warga tolong", "Kabupaten Demak", "id", True),
    ("p2", "banjir lagi di kampung kami", None, "id", True),
    ("p3", "listrik padam sejak pagi pln", "Kota Semarang", "id", True),
    ("p4", "pdam mati telung dina", None, "jv", True),
    ("p5", "terima kasih pak gubernur", None, "id", True),
    ("p6", "jalan rusak parah berlubang", "Kabupaten Pati", "id", True),
    ("p7", "ora ono opo opo", None, "jv", True),
    ("p8", "banjir masuk rumah warga tolong!!", "Kabupaten Demak", "id", False),  # near-duplicate of p1
]

# How unsure the fake topic model is about each tweet: p2 > p4 > p1 > ...
TOPIC_PROBA = {
    "p1": [0.5, 0.3, 0.2],
    "p2": [0.34, 0.33, 0.33],
    "p3": [0.9, 0.05, 0.05],
    "p4": [0.4, 0.35, 0.25],
    "p5": [0.95, 0.03, 0.02],
    "p6": [0.8, 0.1, 0.1],
    "p7": [0.6, 0.3, 0.1],
    "p8": [0.5, 0.3, 0.2],
}


class FakeModel:
    """Probabilities looked up by text: just ``labels`` and ``predict_proba``, as the queue needs."""

    def __init__(self, proba_by_id, labels=("bencana", "utilitas", "lainnya")):
        self.labels = list(labels)
        self.by_text = {text: proba_by_id[tid] for tid, text, *_ in POOL}

    def predict_proba(self, texts):
        return np.array([self.by_text[t] for t in texts], dtype=float)


def _pool(tmp_path, rows=POOL):
    conn = open_pool(tmp_path / "pool.sqlite")
    conn.executemany(
        "INSERT INTO pool VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (tid, text, normalize(text), None, "someone", lang, region, tid if rep else "p1", int(rep), "test", "now")
            for tid, text, region, lang, rep in rows
        ],
    )
    conn.commit()
    return conn


def test_uncertainty_measures():
    p = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.4, 0.3, 0.3], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(uncertainty(p, "least_confidence"), [0.0, 0.5, 0.6, 2 / 3])
    np.testing.assert_allclose(uncertainty(p, "margin"), [0.0, 1.0, 0.9, 1.0])
    entropy = uncertainty(p, "entropy")
    assert entropy[0] == pytest.approx(0, abs=1e-9) and entropy[3] == pytest.approx(1.0)
    assert entropy[1] < entropy[2] < entropy[3]
    with pytest.raises(ValueError, match="measure"):
        uncertainty(p, "vibes")


def test_uncertainty_queue_skips_labelled_and_near_duplicates(tmp_path):
    pool = _pool(tmp_path)
    ann = open_annotations(tmp_path / "a.sqlite")
    save_annotation(ann, "p2", "ana", "bencana", "tinggi", "id", "banjir lagi di kampung kami", "test")
    models = {"topic": FakeModel(TOPIC_PROBA)}
    items = build_queue(pool, 3, "uncertainty", models, ann, exclude_ids={"p7"})
    assert [i.tweet_id for i in items] == ["p4", "p1", "p6"]
    assert [i.rank for i in items] == [1, 2, 3]
    assert items[0].strategy == "uncertainty:least_confidence" and items[0].score == pytest.approx(0.6)
    first = items[1]
    assert first.region == "Kabupaten Demak"
    assert first.suggestions["predictions"]["topic"][0] == {"label": "bencana", "confidence": 0.5}
    assert len(first.suggestions["predictions"]["topic"]) == 3
    assert first.suggestions["rule_hits"] == {"bencana": ["banjir"]}
    assert first.suggestions["lang"] == "id"
    assert first.suggestions["model_version"] == {"topic": "FakeModel"}


def test_measure_changes_the_order(tmp_path):
    pool = _pool(tmp_path)
    proba = dict(TOPIC_PROBA, p1=[0.5, 0.5, 0.0], p4=[0.4, 0.3, 0.3], p2=[0.9, 0.05, 0.05])
    models = {"topic": SimpleNamespace(classifier=FakeModel(proba), version="kemala-topic/3")}
    by_lc = build_queue(pool, 1, "uncertainty", models, measure="least_confidence")
    by_margin = build_queue(pool, 1, "uncertainty", models, measure="margin")
    assert (by_lc[0].tweet_id, by_margin[0].tweet_id) == ("p4", "p1")
    assert by_margin[0].suggestions["model_version"] == {"topic": "kemala-topic/3"}


def test_models_are_averaged_over_tasks(tmp_path):
    pool = _pool(tmp_path)
    urgency = {k: [0.99, 0.01] for k in TOPIC_PROBA} | {"p5": [0.5, 0.5]}
    models = {"topic": FakeModel(TOPIC_PROBA), "urgency": FakeModel(urgency, labels=("darurat", "rendah"))}
    items = build_queue(pool, 7, "uncertainty", models)
    scores = {i.tweet_id: i.score for i in items}
    assert scores["p5"] == pytest.approx(((1 - 0.95) + 0.5) / 2)
    assert set(items[0].suggestions["predictions"]) == {"topic", "urgency"}


def test_diverse_takes_the_most_uncertain_per_cluster(tmp_path):
    pool = _pool(tmp_path)
    models = {"topic": FakeModel(TOPIC_PROBA)}

    def embed(texts):  # two obvious clusters: flood tweets and the rest
        return np.array([[1.0, 0.0] if "banjir" in t else [0.0, 1.0] for t in texts])

    items = build_queue(pool, 2, "diverse", models, embed=embed, candidate_factor=3)
    # Plain uncertainty would take p2 and p4... and p1 next; diverse takes one flood tweet and one other.
    assert [i.tweet_id for i in items] == ["p2", "p4"]
    items = build_queue(pool, 2, "diverse", models, embed=embed, candidate_factor=3, exclude_ids={"p4"})
    assert [i.tweet_id for i in items] == ["p2", "p7"]
    assert items[0].strategy == "diverse:least_confidence"


def test_random_is_seeded(tmp_path):
    pool = _pool(tmp_path)
    a = [i.tweet_id for i in build_queue(pool, 4, "random", seed=1)]
    b = [i.tweet_id for i in build_queue(pool, 4, "random", seed=1)]
    others = {tuple(i.tweet_id for i in build_queue(pool, 4, "random", seed=s)) for s in range(2, 8)}
    assert a == b and len(set(a)) == 4 and "p8" not in a
    assert len(others | {tuple(a)}) > 1
    assert build_queue(pool, 4, "random", seed=1)[0].score is None


def test_cold_start_spreads_topics_and_is_the_fallback_without_models(tmp_path):
    pool = _pool(tmp_path)
    items = build_queue(pool, 5, "uncertainty")  # no models: falls back
    assert {i.strategy for i in items} == {"cold-start"}
    best = [next(iter(i.suggestions["rule_hits"]), None) for i in items]
    # one tweet per topic first (taxonomy order), then the tweet no rule matches, then a second flood tweet
    assert best == ["infrastruktur", "bencana", "utilitas", "lainnya", None]
    assert items[0].tweet_id == "p6" and items[0].score == 1.0  # "jalan rusak"; "lubang" is not "berlubang"
    assert "predictions" not in items[0].suggestions
    all_items = build_queue(pool, 20, "cold-start")
    assert len(all_items) == 7 and all_items[-1].tweet_id in {"p1", "p2", "p3", "p4"}


def test_rule_hits_use_word_boundaries():
    assert rule_hits("banjir bandang, pdam mati") == {"bencana": ["banjir"], "utilitas": ["pdam"]}
    assert rule_hits("pembanjiran") == {}


def test_real_linear_model_and_queue_file_round_trip(tmp_path):
    pool = _pool(tmp_path)
    model = build_classifier(
        "linear", ["infrastruktur", "bencana", "utilitas", "lainnya"], NormalizerConfig(), LinearSettings().model_dump()
    )
    model.fit([r[0] for r in TINY_ROWS], [r[1] for r in TINY_ROWS])
    items = build_queue(pool, 3, "uncertainty", {"topic": model}, measure="entropy")
    assert len(items) == 3 and all(0 <= i.score <= 1 for i in items)
    path = write_queue(tmp_path / "queue.jsonl", items)
    assert read_queue(path) == items


def test_bad_arguments(tmp_path):
    pool = _pool(tmp_path)
    with pytest.raises(ValueError, match="strategy"):
        build_queue(pool, 3, "smart")
    with pytest.raises(ValueError, match="n: must be"):
        build_queue(pool, 0, "random")
    (tmp_path / "bad.jsonl").write_text('{"text": "no id"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        read_queue(tmp_path / "bad.jsonl")
    assert QueueItem.from_dict({"tweet_id": "x", "text": "t", "extra": 1}).source == "unknown"


@pytest.mark.slow
def test_diverse_with_the_default_e5_embedder(tmp_path):
    pool = _pool(tmp_path)
    items = build_queue(pool, 3, "diverse", {"topic": FakeModel(TOPIC_PROBA)}, candidate_factor=2)
    assert len(items) == 3 and len({i.tweet_id for i in items}) == 3
    assert {i.strategy for i in items} == {"diverse:least_confidence"}
