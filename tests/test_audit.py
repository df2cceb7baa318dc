import hashlib
import random

import pandas as pd
import pytest

from tests.conftest import make_rows
from training.labelling.audit import AUDIT_COLUMNS, audit, out_of_fold_proba
from training.labels import write_labels

VOCAB = {
    ("bencana", "darurat"): ["banjir", "longsor", "rob", "tanggul jebol", "pohon tumbang", "evakuasi"],
    ("utilitas", "sedang"): ["listrik padam", "pdam mati", "sinyal ilang", "lpg langka", "air keruh", "pln"],
    ("lainnya", "rendah"): ["terima kasih", "matur nuwun", "selamat pagi", "mantap", "sugeng enjang", "promo"],
}
FILLER = ["warga", "desa", "kami", "sudah", "hari", "tolong", "pak", "lagi", "iki", "wis", "ning", "kok"]
FLIPPED = {"a005": ("lainnya", "rendah"), "a047": ("bencana", "darurat")}


def _corpus():
    rng = random.Random(7)
    rows = []
    for (topic, urgency), words in VOCAB.items():
        for _ in range(20):
            text = " ".join([*rng.sample(words, 2), *rng.sample(FILLER, 4)])
            rows.append((text, topic, urgency, "id"))
    out = make_rows(rows, prefix="a")
    # Plant two label errors: a flood tweet labelled as thanks, a thanks tweet labelled as a flood.
    for row in out:
        if row.id in FLIPPED:
            row.topic, row.urgency = FLIPPED[row.id]
    return out


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def store(tmp_path):
    store = tmp_path / "labels"
    write_labels(store / "corpus" / "gold.jsonl", _corpus())
    return store


def test_audit_finds_planted_errors_and_never_changes_labels(store, tmp_path):
    before = _digest(store)
    out = tmp_path / "audit.csv"
    frame = audit(store, output=out)
    assert _digest(store) == before
    assert list(frame.columns) == AUDIT_COLUMNS
    topic = frame[frame.field == "topic"]
    assert set(FLIPPED) <= set(topic.id)
    flagged = topic.set_index("id").loc["a005"]
    assert (flagged.given, flagged.suggested) == ("lainnya", "bencana")
    assert flagged.given_prob < flagged.suggested_prob
    assert set(frame.field) <= {"topic", "urgency"} and "a005" in set(frame[frame.field == "urgency"].id)
    written = pd.read_csv(out)
    assert len(written) == len(frame) and list(written.columns) == AUDIT_COLUMNS


def test_out_of_fold_probabilities_shape_and_unknown_field(store):
    proba, classes = out_of_fold_proba(["a b", "a c", "d e", "d f"], ["x", "x", "y", "y"], folds=2)
    assert proba.shape == (4, 2) and classes == ["x", "y"]
    with pytest.raises(ValueError, match="two classes"):
        out_of_fold_proba(["a", "b"], ["x", "x"])
    with pytest.raises(KeyError, match="unknown task"):
        audit(store, fields=["colour"], output=None)
