"""The promotion gate, both ways, plus first model, rollback and the recorded decision."""

import shutil

import numpy as np
import pytest

from mlflow import MlflowClient
from tests.conftest import TINY_ROWS
from training.evaluate import evaluate_predictions
from training.labels import load_labels, write_labels
from training.promote import GateSettings, compare, promote
from training.tracking import CHAMPION, alias_version
from training.train import train

LABELS = ["darurat", "tinggi", "sedang", "rendah"]


def _evaluation(pred_rows):
    gold = ["darurat", "darurat", "tinggi", "sedang", "rendah", "rendah"]
    proba = np.zeros((len(gold), 4))
    for i, p in enumerate(pred_rows):
        proba[i, LABELS.index(p)] = 1.0
    return evaluate_predictions("urgency", LABELS, gold, proba, [str(i) for i in range(len(gold))])


def _rotated_store(store, tmp_path):
    rows = load_labels(store)
    topics = sorted({r.topic for r in rows})
    rotated = [r.model_copy(update={"topic": topics[(topics.index(r.topic) + 1) % len(topics)]}) for r in rows]
    copy = tmp_path / "rotated"
    write_labels(copy / "corpus" / "tiny.jsonl", rotated)
    shutil.copy(store / "splits.csv", copy / "splits.csv")
    return copy


def test_gate_passes_a_better_model():
    old = _evaluation(["darurat", "tinggi", "tinggi", "sedang", "rendah", "sedang"])
    new = _evaluation(["darurat", "darurat", "tinggi", "sedang", "rendah", "rendah"])
    passed, failures, numbers = compare(new, old, GateSettings(min_gain=0.01))
    assert passed and not failures and numbers["macro_f1_gain"] > 0


def test_gate_rejects_a_darurat_recall_drop_even_with_higher_macro_f1():
    old = _evaluation(["darurat", "darurat", "sedang", "sedang", "sedang", "sedang"])
    new = _evaluation(["darurat", "tinggi", "tinggi", "sedang", "rendah", "rendah"])
    passed, failures, _ = compare(new, old, GateSettings(max_class_drop=1.0))
    assert new.metrics["macro_f1"] > old.metrics["macro_f1"]
    assert not passed and any("darurat recall" in f for f in failures)


def test_gate_rejects_too_small_a_gain_and_a_class_collapse():
    old = _evaluation(["darurat", "darurat", "tinggi", "sedang", "rendah", "rendah"])
    passed, failures, _ = compare(old, old, GateSettings(min_gain=0.05))
    assert not passed and "macro-F1 gain" in failures[0]
    worse = _evaluation(["darurat", "darurat", "sedang", "sedang", "rendah", "rendah"])
    passed, failures, numbers = compare(worse, old, GateSettings(min_gain=-1, max_class_drop=0.1))
    assert not passed and numbers["largest_class_drop_label"] == "tinggi"


def test_gate_settings_are_validated():
    with pytest.raises(ValueError):
        GateSettings(max_class_drop=2)


def test_first_model_is_promoted_then_worse_is_rejected_then_rollback(fast_config, label_store, tracking_uri, tmp_path):
    train(fast_config, tracking_uri)
    first = promote("topic", store=label_store, tracking_uri=tracking_uri)
    assert first.promoted and first.reason.startswith("first model")
    assert str(alias_version("kemala-topic", CHAMPION).version) == "1"

    # A deliberately worse challenger: trained on a copy of the store whose training labels are rotated.
    train(fast_config.model_copy(update={"data": _rotated_store(label_store, tmp_path)}), tracking_uri)
    decision = promote("topic", store=label_store, gate=GateSettings(min_gain=0.05), tracking_uri=tracking_uri)
    assert not decision.promoted
    assert str(alias_version("kemala-topic", CHAMPION).version) == "1"
    tags = MlflowClient().get_model_version("kemala-topic", "2").tags
    assert tags["promotion.decision"] == "rejected" and "macro-F1 gain" in tags["promotion.reason"]

    rollback = promote("topic", version="2", store=label_store, tracking_uri=tracking_uri)
    assert rollback.promoted and str(alias_version("kemala-topic", CHAMPION).version) == "2"


def test_promote_without_a_challenger_fails(tracking_uri):
    with pytest.raises(LookupError, match="no @challenger"):
        promote("urgency", tracking_uri=tracking_uri)


def test_fixture_has_darurat_rows():
    assert any(r[2] == "darurat" for r in TINY_ROWS)
