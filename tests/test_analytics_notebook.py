"""Run notebooks/analytics.ipynb headless in a real kernel against a tiny seeded store under tmp_path."""

from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from serving.analytics.store import open_store
from tests import analytics_expected as expected
from tests.analytics_fixture import AS_OF, seed_event_log

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "analytics.ipynb"
OCTOBER_WIB = (datetime(2026, 9, 30, 17, tzinfo=UTC), datetime(2026, 10, 31, 17, tzinfo=UTC))

pytestmark = pytest.mark.slow  # a kernel start and matplotlib: several seconds


def test_notebook_runs_headless_on_a_seeded_store(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    engine = open_store(url)
    log = seed_event_log(engine)
    engine.dispose()
    monkeypatch.setenv("KEMALA_DATABASE_URL", url)
    monkeypatch.setenv("KEMALA_REPORT_MONTH", "2026-10")
    monkeypatch.setenv("KEMALA_AS_OF", AS_OF.isoformat())
    monkeypatch.setenv("KEMALA_EMBED", "hashing")

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=180, resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert [o for o in outputs if o.get("output_type") == "error"] == []
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    october = expected.complaints(log, *OCTOBER_WIB, "month", "topic")["totals"]
    assert "month: 2026-10 (Asia/Jakarta)" in text
    assert f"routed tweets: {october['total']}" in text and f"complaints: {october['complaints']}" in text
    assert "overdue shown: 20 (more: True)" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 5  # every figure shown
    assert sum("text/html" in o.get("data", {}) for o in outputs) >= 6  # the tables
