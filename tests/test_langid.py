"""Language id: the trained classifier, its digest-keyed cache, the lingua baseline, the evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from tests.conftest import make_rows
from training.labelling import langid
from training.labelling.langid import LangIdentifier, LinguaLangId, _macro_f1, evaluate_langid, load_or_train
from training.labels import write_labels

LANGS = {"id", "jv", "campur"}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """KEMALA_CACHE under tmp_path, so the default cache root is used but nothing leaks."""
    monkeypatch.setenv("KEMALA_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "langid"


def test_train_predict_save_load(label_store: Path, tmp_path: Path) -> None:
    identifier = LangIdentifier.train(label_store)
    assert identifier.labels == ["id", "jv", "campur"]
    texts = ["banyu wis mlebu omah tulung", "jalan rusak parah banyak lubang", "listrik mati maneh pln piye"]
    predicted = identifier.predict(texts)
    assert len(predicted) == 3 and set(predicted) <= LANGS
    assert identifier.predict_proba(texts).shape == (3, 3)
    assert identifier.meta["train_rows"] == 16
    loaded = LangIdentifier.load(identifier.save(tmp_path / "model"))
    assert loaded.digest == identifier.digest
    assert loaded.predict(texts) == predicted
    assert loaded.model.task == "lang"
    assert json.loads((tmp_path / "model" / "kemala_model.json").read_text())["family"] == "linear"


def test_load_or_train_caches_by_store_digest(label_store: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_or_train(label_store)
    assert (cache / first.digest / "langid.json").exists()
    assert [p.name for p in cache.iterdir()] == [first.digest]  # no temp folder left behind

    def no_training(*args, **kwargs):
        raise AssertionError("trained again although the labels did not change")

    monkeypatch.setattr(LangIdentifier, "train", classmethod(no_training))
    again = load_or_train(label_store)
    assert again.digest == first.digest
    assert again.meta["trained_at"] == first.meta["trained_at"]
    monkeypatch.undo()
    monkeypatch.setenv("KEMALA_CACHE", str(cache.parent))

    # A label change means a new digest, hence a fresh model beside the old one.
    rows = make_rows()
    rows[0] = rows[0].model_copy(update={"lang": "campur"})
    write_labels(label_store / "corpus" / "tiny.jsonl", rows)
    changed = load_or_train(label_store)
    assert changed.digest != first.digest
    assert sorted(p.name for p in cache.iterdir()) == sorted([first.digest, changed.digest])


def test_evaluate_langid_classifier_only(label_store: Path, cache: Path) -> None:
    result = evaluate_langid(label_store, lingua=False)
    assert result["test_rows"] == 4
    assert set(result["methods"]) == {"classifier"}
    scores = result["methods"]["classifier"]
    assert 0.0 <= scores["accuracy"] <= 1.0 and 0.0 <= scores["macro_f1"] <= 1.0
    # The fixture's test split is the 6th row of each topic: all four are campur.
    assert scores["support"] == {"id": 0, "jv": 0, "campur": 4}
    assert scores["per_language_accuracy"]["id"] is None
    assert scores["per_language_accuracy"]["campur"] == scores["accuracy"]
    assert sum(scores["confusion"]["campur"].values()) == 4 and sum(scores["confusion"]["id"].values()) == 0


def test_macro_f1_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    gold = rng.choice(["id", "jv", "campur"], size=200)
    pred = rng.choice(["id", "jv", "campur"], size=200)
    expected = f1_score(gold, pred, labels=["id", "jv", "campur"], average="macro", zero_division=0)
    assert _macro_f1(gold, pred, ("id", "jv", "campur")) == pytest.approx(expected)


def test_lingua_cut_points_order_languages(monkeypatch: pytest.MonkeyPatch) -> None:
    # Lingua itself is stubbed here (its models take ~10 s to load); the slow test below runs it.
    conf = {"a": 0.1, "b": 0.2, "c": 0.6, "d": 0.7, "e": 0.97, "f": 0.99}
    monkeypatch.setattr(LinguaLangId, "indonesian_confidence", lambda self, texts: np.array([conf[t] for t in texts]))
    baseline = LinguaLangId().fit(list(conf), ["jv", "jv", "campur", "campur", "id", "id"])
    assert 0.2 < baseline.low <= 0.6 and 0.7 < baseline.high <= 0.97
    assert baseline.predict(["a", "d", "f"]) == ["jv", "campur", "id"]
    assert baseline.predict([]) == []


@pytest.mark.slow
def test_lingua_baseline_and_full_evaluation(label_store: Path, cache: Path) -> None:
    baseline = LinguaLangId()
    conf = baseline.indonesian_confidence(["jalan rusak parah banyak lubang di depan sekolah", "sugeng enjang"])
    assert conf.shape == (2,) and ((conf >= 0) & (conf <= 1)).all()
    result = evaluate_langid(label_store)
    assert set(result["methods"]) == {"classifier", "lingua"}
    assert "no Javanese model" in result["notes"]["lingua"]
    assert set(result["methods"]["lingua"]["per_language_accuracy"]) == LANGS


def test_langid_eval_command_prints_json(label_store: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from training.labelling.cli_ingest import langid_eval_command

    real = langid.evaluate_langid
    monkeypatch.setattr(langid, "evaluate_langid", lambda store: real(store, lingua=False))
    app = typer.Typer()
    app.command()(langid_eval_command)
    result = CliRunner().invoke(app, [str(label_store)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["methods"]["classifier"]["support"]["campur"] == 4
