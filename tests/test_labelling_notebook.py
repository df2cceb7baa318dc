"""Run notebooks/labelling.ipynb headless in a real kernel against a tiny queue under tmp_path."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

from training.labelling.annotations import open_annotations, save_annotation
from training.labelling.queue import QueueItem, write_queue

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "labelling.ipynb"


def _text_outputs(nb) -> str:
    out = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            out.append(output.get("text", ""))
            out.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(out)


def test_notebook_runs_headless_on_a_tiny_queue(tmp_path, monkeypatch):
    items = [
        QueueItem("n1", "banjir masuk rumah", "Kabupaten Demak", None, "test", "cold-start", 1, 1.0, {}),
        QueueItem("n2", "pdam mati telung dina", None, None, "test", "cold-start", 2, 1.0, {}),
    ]
    queue = write_queue(tmp_path / "queue.jsonl", items)
    store = tmp_path / "annotations.sqlite"
    save_annotation(open_annotations(store), "n1", "nb-tester", "bencana", "darurat", "id", "banjir", "test")
    monkeypatch.setenv("KEMALA_QUEUE", str(queue))
    monkeypatch.setenv("KEMALA_ANNOTATIONS", str(store))
    monkeypatch.setenv("KEMALA_ANNOTATOR", "nb-tester")

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    text = _text_outputs(nb)
    assert f"queue: {queue}" in text and "annotator: nb-tester" in text
    assert "done 1 / 2 queued (1 to go)" in text  # resumed from the store
    assert "bencana 1" in text
    widget_views = [
        o
        for c in nb.cells
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widget_views, "the labelling widget was not displayed"
