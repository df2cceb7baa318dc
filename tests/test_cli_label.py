import json

import pytest
from typer.testing import CliRunner

from tests.conftest import TINY_ROWS, read_jsonl
from training.config import LinearSettings
from training.labelling.annotations import annotations_for, open_annotations, save_annotation
from training.labelling.cli_label import label_app
from training.labelling.pool import open_pool
from training.labels import load_labels
from training.models import build_classifier
from training.normalize import NormalizerConfig, normalize

runner = CliRunner()
COMMANDS = (
    "queue",
    "agreement",
    "adjudicate",
    "resolve",
    "audit",
    "export-labelstudio",
    "import-labelstudio",
    "import-feedback",
)


def _invoke(*args):
    result = runner.invoke(label_app, [str(a) for a in args])
    return result


@pytest.fixture
def pool(tmp_path):
    path = tmp_path / "pool.sqlite"
    conn = open_pool(path)
    rows = [(f"p{i}", text) for i, (text, *_) in enumerate(TINY_ROWS[:12])]
    conn.executemany(
        "INSERT INTO pool VALUES (?, ?, ?, NULL, NULL, 'id', NULL, ?, 1, 'test', 'now')",
        [(tid, text, normalize(text), tid) for tid, text in rows],
    )
    conn.commit()
    return path


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = _invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and len(result.output) > 200


def test_queue_export_import_adjudicate_flow(tmp_path, pool, label_store):
    ann = tmp_path / "a.sqlite"
    queue = tmp_path / "queue.jsonl"
    result = _invoke(
        "queue", "-n", 4, "--strategy", "cold-start", "--pool", pool, "-o", queue, "-a", ann, "--store", label_store
    )
    assert result.exit_code == 0, result.output
    assert "4 tweets queued (cold-start)" in result.output
    assert len(read_jsonl(queue)) == 4

    tasks, config = tmp_path / "ls" / "tasks.json", tmp_path / "ls" / "config.xml"
    result = _invoke("export-labelstudio", "--queue", queue, "--tasks", tasks, "--config", config)
    assert result.exit_code == 0, result.output
    exported = json.loads(tasks.read_text())
    assert len(exported) == 4 and config.exists()

    for n, task in enumerate(exported):
        task["annotations"] = [
            {
                "id": n,
                "completed_by": {"id": 1, "email": who},
                "result": [
                    {"from_name": "topic", "type": "choices", "value": {"choices": ["bencana"]}},
                    {"from_name": "urgency", "type": "choices", "value": {"choices": [urgency]}},
                    {"from_name": "lang", "type": "choices", "value": {"choices": ["id"]}},
                ],
            }
            for who, urgency in (("ana@x.org", "darurat"), ("budi@x.org", "darurat" if n else "tinggi"))
        ]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(exported))
    result = _invoke("import-labelstudio", export, "-a", ann)
    assert result.exit_code == 0, result.output
    assert "imported 8 annotation(s)" in result.output

    report = tmp_path / "agreement.md"
    result = _invoke("agreement", "-a", ann, "-o", report, "--json", tmp_path / "agreement.json")
    assert result.exit_code == 0, result.output
    assert "# Inter-annotator agreement" in report.read_text()
    assert json.loads((tmp_path / "agreement.json").read_text())["annotators"] == ["ana@x.org", "budi@x.org"]

    review = tmp_path / "review.jsonl"
    result = _invoke("adjudicate", "-a", ann, "--store", label_store, "--review-queue", review)
    assert result.exit_code == 0, result.output
    assert "gold: 3" in result.output and "flagged for review: 1" in result.output
    (flagged,) = read_jsonl(review)
    result = _invoke(
        "resolve",
        flagged["tweet_id"],
        "--reviewer",
        "rina",
        "--topic",
        "bencana",
        "--urgency",
        "tinggi",
        "--lang",
        "id",
        "-a",
        ann,
        "--store",
        label_store,
        "--review-queue",
        review,
    )
    assert result.exit_code == 0, result.output
    assert "adjudicated:rina" in result.output
    assert len(load_labels(label_store)) == len(TINY_ROWS) + 4
    assert read_jsonl(review) == []

    # Queue again: everything annotated or gold is skipped.
    result = _invoke(
        "queue", "-n", 50, "--strategy", "cold-start", "--pool", pool, "-o", queue, "-a", ann, "--store", label_store
    )
    assert "8 tweets queued" in result.output


def test_queue_with_an_exported_model_folder(tmp_path, pool, label_store, tracking_uri):
    models = tmp_path / "export"
    for task, col in (("topic", 1), ("urgency", 2)):
        labels = sorted({r[col] for r in TINY_ROWS})
        model = build_classifier("linear", labels, NormalizerConfig(), LinearSettings(calibration_cv=2).model_dump())
        model.fit([r[0] for r in TINY_ROWS], [r[col] for r in TINY_ROWS])
        model.task = task
        model.save(models / task)
    queue = tmp_path / "queue.jsonl"
    result = _invoke(
        "queue",
        "-n",
        3,
        "--measure",
        "margin",
        "--pool",
        pool,
        "-o",
        queue,
        "-a",
        tmp_path / "a.sqlite",
        "--store",
        label_store,
        "--model-uri",
        models,
    )
    assert result.exit_code == 0, result.output
    items = read_jsonl(queue)
    assert {i["strategy"] for i in items} == {"uncertainty:margin"}
    assert set(items[0]["suggestions"]["predictions"]) == {"topic", "urgency"}


@pytest.mark.slow  # creates an empty MLflow store (~7 s)
def test_queue_without_models_falls_back_to_rules(tmp_path, pool, label_store, tracking_uri):
    queue = tmp_path / "queue.jsonl"
    result = _invoke("queue", "-n", 2, "--pool", pool, "-o", queue, "-a", tmp_path / "a.sqlite", "--store", label_store)
    assert result.exit_code == 0, result.output
    assert "no models loaded" in result.output and "(cold-start)" in result.output


def test_import_feedback_and_audit(tmp_path, label_store):
    feedback = tmp_path / "feedback.jsonl"
    feedback.write_text(
        json.dumps({"id": "f1", "text": "pdam mati", "topic": "utilitas", "urgency": "tinggi", "reviewer": "rina"})
        + "\n"
        + json.dumps({"id": "f2", "text": "x", "topic": "nope", "urgency": "tinggi", "reviewer": "rina"})
        + "\n"
    )
    ann = tmp_path / "a.sqlite"
    result = _invoke("import-feedback", "--feedback", feedback, "-a", ann)
    assert result.exit_code == 1
    assert "imported 1 correction(s); 1 bad line(s)" in result.output
    assert [a.annotator for a in annotations_for(open_annotations(ann))] == ["feedback:rina"]

    out = tmp_path / "audit.csv"
    result = _invoke("audit", "--store", label_store, "-o", out, "--folds", 3)
    assert result.exit_code == 0, result.output
    assert out.exists() and "review list" in result.output


def test_errors_are_reported_not_raised(tmp_path, label_store):
    ann = tmp_path / "a.sqlite"
    save_annotation(open_annotations(ann), "z1", "ana", "bencana", "darurat", "id", "banjir", "test")
    result = _invoke(
        "resolve",
        "z1",
        "--reviewer",
        "rina",
        "--topic",
        "banjirr",
        "--urgency",
        "tinggi",
        "--lang",
        "id",
        "-a",
        ann,
        "--store",
        label_store,
    )
    assert result.exit_code == 1 and "topic: unknown label id 'banjirr'" in result.output
    result = _invoke("queue", "--pool", tmp_path / "missing.sqlite", "-a", ann)
    assert result.exit_code == 1 and "no pool yet" in result.output
    result = _invoke("queue", "--strategy", "smart", "--pool", tmp_path / "missing.sqlite")
    assert result.exit_code == 1 and "--strategy" in result.output
    result = _invoke("export-labelstudio", "--queue", tmp_path / "nope.jsonl")
    assert result.exit_code == 1
