"""Each model family trains, predicts probabilities over its labels, saves and reloads."""

import numpy as np
import pytest

from tests.conftest import TINY_ROWS
from training.config import EncoderSettings, FinetuneSettings, LinearSettings
from training.models import build_classifier, load_classifier
from training.normalize import NormalizerConfig

TEXTS = [r[0] for r in TINY_ROWS]
TOPICS = [r[1] for r in TINY_ROWS]
LABELS = sorted(set(TOPICS))


def _check_round_trip(clf, tmp_path):
    proba = clf.predict_proba(TEXTS[:5])
    assert proba.shape == (5, len(LABELS))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    clf.save(tmp_path / "m")
    again = load_classifier(tmp_path / "m")
    assert again.labels == clf.labels and again.family == clf.family
    np.testing.assert_allclose(again.predict_proba(TEXTS[:5]), proba, atol=1e-5)


def test_linear_learns_the_tiny_topics(tmp_path):
    settings = LinearSettings(calibration_cv=2).model_dump()
    clf = build_classifier("linear", LABELS, NormalizerConfig(), settings)
    clf.fit(TEXTS, TOPICS)
    assert np.mean(np.array(clf.predict(TEXTS)) == np.array(TOPICS)) > 0.9
    _check_round_trip(clf, tmp_path)


def test_linear_with_one_example_per_class_falls_back_to_logistic_regression(tmp_path):
    clf = build_classifier("linear", ["a", "b"], NormalizerConfig(), LinearSettings().model_dump())
    facts = clf.fit(["jalan rusak", "banjir besar"], ["a", "b"])
    assert facts["calibration_cv"] == 1
    assert clf.predict(["jalan rusak"]) == ["a"]


def test_unknown_training_label_is_rejected():
    clf = build_classifier("linear", ["a", "b"], NormalizerConfig(), LinearSettings().model_dump())
    with pytest.raises(ValueError, match="not in the label list"):
        clf.fit(["x", "y"], ["a", "c"])


def test_label_absent_from_training_still_gets_a_column():
    clf = build_classifier(
        "linear", [*LABELS, "pariwisata"], NormalizerConfig(), LinearSettings(calibration_cv=2).model_dump()
    )
    clf.fit(TEXTS, TOPICS)
    proba = clf.predict_proba(["pantai"])
    assert proba.shape == (1, len(LABELS) + 1) and proba[0, -1] == 0


def test_encoder_family_with_a_tiny_model(tmp_path, tiny_hf_model, monkeypatch):
    monkeypatch.setenv("KEMALA_CACHE", str(tmp_path / "cache"))
    settings = EncoderSettings(model_name=tiny_hf_model, prefix="query: ", C=10).model_dump()
    clf = build_classifier("encoder", LABELS, NormalizerConfig(), settings)
    clf.fit(TEXTS, TOPICS)
    _check_round_trip(clf, tmp_path)
    assert (tmp_path / "m" / "encoder" / "config.json").exists()  # the encoder travels with the model


@pytest.mark.slow
def test_finetune_family_with_a_tiny_model(tmp_path, tiny_hf_model):
    settings = FinetuneSettings(model_name=tiny_hf_model, epochs=3, batch_size=8, learning_rate=1e-3).model_dump()
    clf = build_classifier("finetune", LABELS, NormalizerConfig(), settings)
    epochs = []
    facts = clf.fit(TEXTS, TOPICS, TEXTS[:8], TOPICS[:8], on_epoch=lambda e, m: epochs.append((e, m)))
    assert [e for e, _ in epochs] == [1, 2, 3]
    assert all("macro_f1" in m for _, m in epochs)
    assert facts["epochs_run"] == 3
    _check_round_trip(clf, tmp_path)


def test_unknown_family_is_rejected():
    with pytest.raises(ValueError, match="unknown model family"):
        build_classifier("forest", LABELS, NormalizerConfig(), {})


def test_encoder_models_on_the_same_weights_share_one_embedder_and_embed_a_batch_once(
    tmp_path, tiny_hf_model, monkeypatch
):
    import shutil

    from training.models.embedder import Embedder

    monkeypatch.setenv("KEMALA_CACHE", str(tmp_path / "cache"))
    copy = tmp_path / "copy"
    shutil.copytree(tiny_hf_model, copy)
    settings = EncoderSettings(model_name=tiny_hf_model, cache_embeddings=False).model_dump()
    a = build_classifier("encoder", LABELS, NormalizerConfig(), settings)
    b = build_classifier("encoder", LABELS, NormalizerConfig(), settings | {"model_name": str(copy)})
    assert a.embedder is b.embedder
    calls = []
    original = Embedder._encode
    monkeypatch.setattr(
        Embedder, "_encode", lambda self, texts, progress: calls.append(len(texts)) or original(self, texts, progress)
    )
    first = a.embedder.encode(TEXTS[:4])
    again = b.embedder.encode(TEXTS[:4])
    np.testing.assert_array_equal(first, again)
    assert calls == [4]
