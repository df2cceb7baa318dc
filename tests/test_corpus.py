"""The shipped bootstrap corpus meets the foundation issue's requirements."""

from collections import Counter
from pathlib import Path

import pytest

from training.config import DEFAULT_LABEL_STORE
from training.dedup import similar_pairs
from training.labelstore import validate_store
from training.splits import SPLITS_FILENAME, read_splits
from training.taxonomy import CONTRACT_TOPICS

MIN_PER_TOPIC, MIN_LAINNYA = 120, 400
MIN_URGENCY = {"darurat": 250, "tinggi": 450, "sedang": 800, "rendah": 450}


@pytest.fixture(scope="module")
def rows():
    from training.labels import load_labels

    return load_labels(DEFAULT_LABEL_STORE)


def test_store_validates_and_every_row_has_a_split():
    summary = validate_store(DEFAULT_LABEL_STORE)
    assert summary.unsplit == 0 and summary.rows >= 2400


def test_topic_and_urgency_minimums(rows):
    topics = Counter(r.topic for r in rows)
    assert all(topics[t] >= MIN_PER_TOPIC for t in CONTRACT_TOPICS), topics
    assert topics["lainnya"] >= MIN_LAINNYA
    urgency = Counter(r.urgency for r in rows)
    assert all(urgency[u] >= n for u, n in MIN_URGENCY.items()), urgency
    assert all(r.urgency == "rendah" for r in rows if r.topic == "lainnya")


def test_language_mix_is_about_45_35_20(rows):
    share = {k: v / len(rows) for k, v in Counter(r.lang for r in rows).items()}
    assert abs(share["id"] - 0.45) < 0.05 and abs(share["jv"] - 0.35) < 0.05 and abs(share["campur"] - 0.20) < 0.05


def test_no_two_tweets_are_near_duplicates(rows):
    pairs = similar_pairs([r.text for r in rows], threshold=0.6)
    assert pairs == [], [(rows[i].id, rows[j].id, round(s, 2)) for i, j, s in pairs[:5]]


def test_written_like_tweets_not_forms(rows):
    texts = [r.text for r in rows]
    no_hashtag = sum("#kemalajateng" not in t.lower() for t in texts) / len(texts)
    short = sum(len(t.split()) < 8 for t in texts) / len(texts)
    mentions = sum(t.startswith("@") for t in texts) / len(texts)
    assert 0.25 <= no_hashtag <= 0.45 and short >= 0.10 and mentions >= 0.05
    openings = Counter(t.split()[0].lower() for t in texts)
    assert openings.most_common(1)[0][1] / len(texts) < 0.03  # no formulaic opening
    lengths = [len(t.split()) for t in texts]
    assert min(lengths) <= 4 and max(lengths) >= 45


def test_splits_are_stratified_by_topic_and_language(rows):
    splits = read_splits(DEFAULT_LABEL_STORE / SPLITS_FILENAME)
    counts = Counter(splits.values())
    assert abs(counts["test"] / len(rows) - 0.10) < 0.02 and abs(counts["valid"] / len(rows) - 0.10) < 0.02
    for topic in CONTRACT_TOPICS:
        in_topic = [r for r in rows if r.topic == topic]
        test_share = sum(splits[r.id] == "test" for r in in_topic) / len(in_topic)
        assert 0.05 < test_share < 0.16, (topic, test_share)


def test_guidelines_are_bilingual_and_cover_every_topic():
    text = (DEFAULT_LABEL_STORE / "guidelines.md").read_text(encoding="utf-8")
    assert "Aturan utama" in text and "The routing rule" in text
    for topic in CONTRACT_TOPICS:
        assert f"### {topic}" in text
    assert Path(DEFAULT_LABEL_STORE / "README.md").exists()
