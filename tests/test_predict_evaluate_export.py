"""predict's output schema, evaluate's report files, export's self-contained folder, the CLI."""

import json

import pytest
from typer.testing import CliRunner

from tests.conftest import read_jsonl
from training.cli import app
from training.config import load_config
from training.evaluate import evaluate_model
from training.export import export_champions, read_export_meta
from training.predict import predict_file
from training.promote import promote
from training.train import train

runner = CliRunner()


@pytest.fixture
def champions(label_store, tracking_uri):
    for task in ("topic", "urgency"):
        cfg = load_config(None, ["linear.calibration_cv=2"], task=task, data=label_store)
        train(cfg, tracking_uri)
        promote(task, store=label_store, tracking_uri=tracking_uri)
    return tracking_uri


def _input(tmp_path):
    path = tmp_path / "in.jsonl"
    rows = [{"id": "a", "text": "banjir masuk rumah tolong", "user": "x"}, {"id": "b", "text": "terima kasih pak"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_predict_adds_the_routing_columns_and_keeps_others(tmp_path, champions):
    out = tmp_path / "out.jsonl"
    assert predict_file(_input(tmp_path), out, tracking_uri=champions) == 2
    rows = read_jsonl(out)
    expected = {
        "id",
        "text",
        "user",
        "topic",
        "topic_confidence",
        "urgency",
        "urgency_confidence",
        "needs_review",
        "model_version",
    }
    assert set(rows[0]) == expected and rows[0]["user"] == "x"
    assert rows[0]["topic"] in {"bencana", "infrastruktur", "utilitas", "lainnya"}
    assert 0 <= rows[0]["topic_confidence"] <= 1 and isinstance(rows[0]["needs_review"], bool)
    assert rows[0]["model_version"] == "topic=kemala-topic@champion;urgency=kemala-urgency@champion"
    if rows[0]["urgency"] == "darurat":
        assert rows[0]["needs_review"]


def test_predict_from_an_exported_folder_and_csv_with_text_col(tmp_path, champions):
    exported = export_champions(tmp_path / "models", tracking_uri=champions)
    meta = read_export_meta(exported["topic"])
    assert meta["registered_model"] == "kemala-topic" and meta["version"] == "1" and "test_macro_f1" in meta["metrics"]
    csv = tmp_path / "in.csv"
    csv.write_text("id,tweet\n1,jalan rusak parah\n2,pdam mati\n")
    out = tmp_path / "out.jsonl"
    predict_file(csv, out, model_uri=str(tmp_path / "models"), text_col="tweet")
    assert read_jsonl(out)[0]["model_version"] == "topic=kemala-topic/1;urgency=kemala-urgency/1"


def test_predict_names_a_missing_column(tmp_path, champions):
    csv = tmp_path / "in.csv"
    csv.write_text("id,body\n1,x\n")
    with pytest.raises(ValueError, match="no 'text' column"):
        predict_file(csv, tmp_path / "o.jsonl", tracking_uri=champions)


def test_evaluate_writes_html_markdown_and_plots(tmp_path, champions, label_store):
    out = evaluate_model(
        "models:/kemala-urgency@champion", label_store, tmp_path / "rep", split="test", tracking_uri=champions
    )
    names = {p.name for p in (tmp_path / "rep").iterdir()}
    assert {
        "report.html",
        "summary.md",
        "confusion_matrix.png",
        "reliability.png",
        "per_class.csv",
        "misclassified.csv",
        "metrics.json",
    } <= names
    for key in ("accuracy", "macro_f1", "weighted_f1", "ece", "darurat_recall", "darurat_precision", "ordinal_mae"):
        assert key in out["metrics"]
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "data:image/png;base64," in html and "Per language" in html


def _commands(group, prefix=()):
    """Every command path of a typer/click group, recursively."""
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


def test_every_cli_command_has_help():
    import typer.main

    paths = list(_commands(typer.main.get_command(app)))
    assert {("train",), ("serve",), ("retrain",), ("ingest",), ("label", "queue"), ("labels", "validate")} <= set(paths)
    for args in [(), *paths]:
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
        assert "Usage" in result.output


def test_predict_accepts_a_run_uri(tmp_path, champions):
    from mlflow import MlflowClient

    run_id = MlflowClient().get_model_version("kemala-topic", "1").run_id
    out = tmp_path / "out.jsonl"
    predict_file(_input(tmp_path), out, model_uri=f"runs:/{run_id}/model", tracking_uri=champions)
    row = read_jsonl(out)[0]
    assert row["model_version"].startswith(f"topic=runs:/{run_id}/model;urgency=kemala-urgency@champion")


def test_cli_validate_reports_counts_and_fails_on_bad_rows(label_store):
    ok = runner.invoke(app, ["labels", "validate", str(label_store)])
    assert ok.exit_code == 0 and "infrastruktur" in ok.output and "split:" in ok.output
    with (label_store / "corpus" / "tiny.jsonl").open("a") as fh:
        fh.write('{"id": "bad"}\n')
    bad = runner.invoke(app, ["labels", "validate", str(label_store)])
    assert bad.exit_code == 1 and "tiny.jsonl:25: text: missing field" in bad.output


def test_cli_train_rejects_a_bad_override_with_exit_2(label_store):
    result = runner.invoke(app, ["train", "--data", str(label_store), "--set", "linear.C=-3"])
    assert result.exit_code == 2 and "linear.C" in result.output
