"""train(cfg) logs params, metrics, datasets, artefacts and a registered pyfunc to MLflow under tmp_path."""

import pandas as pd
import pytest

import mlflow
from mlflow import MlflowClient
from training.tracking import CHALLENGER, DEFAULT_TRACKING_URI, alias_version, tracking_uri
from training.train import train


def test_default_tracking_store_is_sqlite_under_mlflow(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri() == DEFAULT_TRACKING_URI
    assert DEFAULT_TRACKING_URI.startswith("sqlite:///") and DEFAULT_TRACKING_URI.endswith("mlflow/mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://u@db/mlflow")
    assert tracking_uri() == "postgresql://u@db/mlflow"


def test_train_logs_everything_and_registers_a_challenger(fast_config, tracking_uri):
    result = train(fast_config, tracking_uri)
    client = MlflowClient(tracking_uri)
    run = client.get_run(result["run_id"])
    assert run.data.params["family"] == "linear" and run.data.params["linear.C"] == "0.5"
    assert run.data.params["data.n_train"] == "16"
    for key in ("valid_macro_f1", "test_macro_f1", "valid_accuracy", "train_seconds", "test_ece"):
        assert key in run.data.metrics
    assert run.data.tags["data.digest"] == result.get("data_digest", run.data.tags["data.digest"])
    contexts = sorted(i.tags[0].value for i in run.inputs.dataset_inputs)
    assert contexts == ["test", "train", "valid"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation/valid")}
    assert {
        "evaluation/valid/confusion_matrix.png",
        "evaluation/valid/per_class.csv",
        "evaluation/valid/misclassified.csv",
        "evaluation/valid/report.html",
    } <= artifacts
    version = alias_version("kemala-topic", CHALLENGER)
    assert version is not None and str(version.version) == result["model_version"]
    model = mlflow.pyfunc.load_model(f"models:/kemala-topic@{CHALLENGER}")
    assert model.metadata.metadata["labels"][0] == "infrastruktur"
    out = model.predict(pd.DataFrame({"text": ["banjir masuk rumah tolong", "jalan rusak berlubang"]}))
    assert list(out.columns[:2]) == ["label", "confidence"] and len(out) == 2
    assert out.filter(like="p_").sum(axis=1).round(6).eq(1).all()


def test_second_run_gets_a_new_version(fast_config, tracking_uri):
    first = train(fast_config, tracking_uri)
    second = train(fast_config, tracking_uri)
    assert int(second["model_version"]) == int(first["model_version"]) + 1


def test_training_on_a_labelled_csv(tmp_path, tracking_uri):
    from training.config import load_config

    rows = ["text,label"] + [f"good review number {i},positive" for i in range(10)]
    rows += [f"bad awful review {i},negative" for i in range(10)]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    cfg = load_config(None, ["label_col=label", "linear.calibration_cv=2"], task="toy", data=tmp_path / "train.csv")
    result = train(cfg, tracking_uri)
    assert result["valid_n"] == 2 and alias_version("kemala-toy", CHALLENGER) is not None


def test_missing_splits_fail_clearly(fast_config, tracking_uri):
    (fast_config.data / "splits.csv").unlink()
    with pytest.raises(ValueError, match="kemala labels split"):
        train(fast_config, tracking_uri)
