import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from training.labelling.annotations import (
    Annotation,
    AnnotationError,
    annotated_ids,
    annotations_for,
    annotators,
    open_annotations,
    progress,
    save_annotation,
    save_annotations,
    validate_annotation,
)

REPO = Path(__file__).resolve().parent.parent


def _save(conn, tweet_id="a1", annotator="ana", topic="bencana", urgency="darurat", lang="jv", **kw):
    return save_annotation(conn, tweet_id, annotator, topic, urgency, lang, kw.pop("text", "banjir"), "test", **kw)


def test_store_is_wal_and_round_trips(tmp_path):
    conn = open_annotations(tmp_path / "a.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    saved = _save(conn, region="Kabupaten Demak", created_at="2026-11-01T08:00:00Z")
    _save(conn, annotator="budi", topic="infrastruktur", urgency="tinggi", lang=None)
    rows = annotations_for(conn)
    assert [(a.tweet_id, a.annotator) for a in rows] == [("a1", "ana"), ("a1", "budi")]
    assert rows[0] == saved and rows[0].region == "Kabupaten Demak"
    assert rows[1].lang is None
    assert annotators(conn) == ["ana", "budi"]
    assert annotated_ids(conn, "budi") == {"a1"} and annotated_ids(conn, "cici") == set()


def test_relabelling_replaces_the_annotators_own_row(tmp_path):
    conn = open_annotations(tmp_path / "a.sqlite")
    _save(conn)
    _save(conn, topic="lingkungan", urgency="sedang")
    (only,) = annotations_for(conn)
    assert (only.topic, only.urgency) == ("lingkungan", "sedang")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"topic": "banjir"}, r"topic: unknown label id 'banjir'"),
        ({"urgency": "urgent"}, r"urgency: unknown label id 'urgent'"),
        ({"lang": "en"}, r"lang: unknown label id 'en'"),
        ({"text": "  "}, r"text: empty text"),
        ({"region": "Jakarta"}, r"region: unknown region"),
        ({"labelled_at": "yesterday"}, r"labelled_at: not an ISO 8601 time"),
    ],
)
def test_invalid_labels_are_rejected_naming_the_field(tmp_path, changes, message):
    conn = open_annotations(tmp_path / "a.sqlite")
    with pytest.raises(AnnotationError, match=message):
        _save(conn, **changes)
    assert annotations_for(conn) == []


def test_a_batch_with_one_bad_row_writes_nothing(tmp_path):
    conn = open_annotations(tmp_path / "a.sqlite")
    good = Annotation("a1", "ana", "bencana", "darurat", "id", "banjir", "2026-11-01T00:00:00Z", "test")
    bad = Annotation("a2", "ana", "nope", "darurat", "id", "banjir", "2026-11-01T00:00:00Z", "test")
    with pytest.raises(AnnotationError, match="topic"):
        save_annotations(conn, [good, bad])
    assert annotations_for(conn) == []


def test_annotations_for_filters_by_ids_and_annotator(tmp_path):
    conn = open_annotations(tmp_path / "a.sqlite")
    for i in range(3):
        _save(conn, tweet_id=f"t{i}")
        _save(conn, tweet_id=f"t{i}", annotator="budi")
    assert {a.tweet_id for a in annotations_for(conn, ["t0", "t2", "zz"])} == {"t0", "t2"}
    assert len(annotations_for(conn, ["t1"], annotator="budi")) == 1


def test_progress_counts_done_and_classes(tmp_path):
    conn = open_annotations(tmp_path / "a.sqlite")
    _save(conn, tweet_id="q1")
    _save(conn, tweet_id="q2", annotator="budi", topic="utilitas", urgency="sedang", lang="id")
    _save(conn, tweet_id="other")
    report = progress(conn, ["q1", "q2", "q3"])
    assert (report["queued"], report["done"], report["remaining"]) == (3, 2, 1)
    assert report["per_class"]["topic"]["bencana"] == 1 and report["per_class"]["topic"]["utilitas"] == 1
    assert report["per_class"]["topic"]["lainnya"] == 0
    assert list(report["per_class"]["urgency"]) == ["darurat", "tinggi", "sedang", "rendah"]
    mine = progress(conn, ["q1", "q2", "q3"], annotator="ana")
    assert mine["done"] == 1


def test_validate_turns_datetimes_into_iso_text():
    from datetime import UTC, datetime

    a = Annotation("a1", "ana", "bencana", "darurat", "id", "banjir", datetime(2026, 1, 1, tzinfo=UTC), "test")
    assert validate_annotation(a).labelled_at.startswith("2026-01-01T00:00:00")


# -- durability ---------------------------------------------------------------------------

_KILLED_WRITER = """
import sys
from training.labelling.annotations import open_annotations, save_annotation
conn = open_annotations(sys.argv[1])
log = open(sys.argv[2], "a", encoding="utf-8")
log.write("ready\\n"); log.flush()
i = 0
while True:
    save_annotation(conn, f"w{i:06d}", "writer", "bencana", "darurat", "jv", f"banyu mlebu omah {i}", "test")
    log.write(f"{i}\\n"); log.flush()
    i += 1
"""

_ANNOTATOR = """
import os, sys, time
from training.labelling.annotations import open_annotations, save_annotation
store, name, n, go, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
conn = open_annotations(store)
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.005)
for i in range(n):
    save_annotation(conn, f"t{i:04d}", name, "utilitas", "tinggi", "id", f"pdam mati {i}", "test")
"""


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("subprocess did not get ready")
        time.sleep(0.01)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_sigkill_mid_write_leaves_a_valid_store_losing_at_most_one_label(tmp_path):
    store, log = tmp_path / "a.sqlite", tmp_path / "writer.log"
    log.touch()
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(store), str(log)], cwd=REPO, env=_env())
    try:
        _wait_for(lambda: log.read_text().startswith("ready\n"))
        time.sleep(0.3)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # Only complete lines count: the writer may have died while logging.
    reported = [int(x) for x in log.read_text().split("\n")[1:-1] if x]
    assert reported, "the writer was killed before its first label; nothing was tested"

    conn = open_annotations(store)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = annotations_for(conn)
    for row in rows:
        validate_annotation(row)
    ids = [r.tweet_id for r in rows]
    assert ids == [f"w{i:06d}" for i in range(len(ids))], "a gap means a committed label was lost"
    # Every label the writer saw committed is there; at most the one in flight may be extra or missing.
    assert len(rows) in (len(reported), len(reported) + 1)
    # The store still takes writes after the crash.
    _save(conn, tweet_id="after-crash")
    assert "after-crash" in annotated_ids(conn)


def test_two_annotators_writing_concurrently_lose_nothing(tmp_path):
    store, go = tmp_path / "a.sqlite", tmp_path / "go"
    n = 300
    open_annotations(store).close()  # create the file and schema once, as the labelling tools do
    procs = []
    for name in ("ana", "budi"):
        ready = tmp_path / f"{name}.ready"
        args = [sys.executable, "-c", _ANNOTATOR, str(store), name, str(n), str(go), str(ready)]
        procs.append((subprocess.Popen(args, cwd=REPO, env=_env()), ready))
    _wait_for(lambda: all(ready.exists() for _, ready in procs))
    go.touch()
    for proc, _ in procs:
        assert proc.wait(timeout=240) == 0
    conn = sqlite3.connect(store)
    counts = dict(conn.execute("SELECT annotator, COUNT(*) FROM annotations GROUP BY annotator"))
    assert counts == {"ana": n, "budi": n}
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
