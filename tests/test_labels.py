import json

import pytest

from tests.conftest import make_rows
from training.labels import LabelFileError, atomic_writer, load_labels, write_labels

GOOD = {
    "id": "a1",
    "text": "jalan rusak",
    "topic": "infrastruktur",
    "urgency": "sedang",
    "lang": "id",
    "source": "test",
    "annotator": "tester",
    "labelled_at": "2026-11-01T00:00:00Z",
}


def _file(tmp_path, lines: list[bytes]):
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _line(**changes) -> bytes:
    row = dict(GOOD, **changes)
    row = {k: v for k, v in row.items() if v is not ...}
    return json.dumps(row, ensure_ascii=False).encode()


def _errors(path) -> list[str]:
    with pytest.raises(LabelFileError) as info:
        load_labels(path)
    return [str(e) for e in info.value.errors]


def test_valid_file_loads(tmp_path):
    rows = load_labels(_file(tmp_path, [_line(), _line(id="a2", region="Kabupaten Demak")]))
    assert [r.id for r in rows] == ["a1", "a2"]
    assert rows[1].region == "Kabupaten Demak"


def test_unknown_label_id_names_file_line_and_field(tmp_path):
    path = _file(tmp_path, [_line(), _line(id="a2", topic="jalan")])
    errors = _errors(path)
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}:2: topic: unknown label id 'jalan' (allowed: infrastruktur, ")


def test_missing_field(tmp_path):
    path = _file(tmp_path, [_line(urgency=...)])
    assert _errors(path) == [f"{path}:1: urgency: missing field"]


def test_empty_text(tmp_path):
    path = _file(tmp_path, [_line(text="   ")])
    assert _errors(path) == [f"{path}:1: text: Value error, empty text"]


def test_duplicate_id(tmp_path):
    path = _file(tmp_path, [_line(), _line()])
    assert _errors(path) == [f"{path}:2: id: duplicate id 'a1' (first at {path}:1)"]


def test_invalid_utf8(tmp_path):
    path = _file(tmp_path, [_line(), b'{"id": "a2", "text": "caf\xe9"}'])
    assert _errors(path) == [f"{path}:2: <line>: invalid UTF-8 at byte 25"]


def test_bad_json(tmp_path):
    path = _file(tmp_path, [_line(), b'{"id": "a2", "text": '])
    errors = _errors(path)
    assert len(errors) == 1 and errors[0].startswith(f"{path}:2: <line>: bad JSON")


def test_every_bad_row_is_reported_not_just_the_first(tmp_path):
    path = _file(tmp_path, [_line(lang="en"), _line(id="a2", urgency="urgent"), b"[1, 2]", _line(id="a3")])
    errors = _errors(path)
    assert [e.split(": ")[0] for e in errors] == [f"{path}:1", f"{path}:2", f"{path}:3"]
    assert "expected a JSON object" in errors[2]


def test_unknown_region_and_field(tmp_path):
    path = _file(tmp_path, [_line(region="Jogja"), _line(id="a2", mood="angry")])
    errors = _errors(path)
    assert errors[0].startswith(f"{path}:1: region:")
    assert errors[1] == f"{path}:2: mood: unknown field"


def test_directory_reads_corpus_files_and_checks_ids_across_files(tmp_path):
    rows = make_rows()
    write_labels(tmp_path / "corpus" / "a.jsonl", rows[:3])
    write_labels(tmp_path / "corpus" / "b.jsonl", rows[2:4])
    with pytest.raises(LabelFileError, match="duplicate id 't002'"):
        load_labels(tmp_path)


def test_write_then_read_round_trips_unicode(tmp_path):
    rows = make_rows()[:2]
    rows[0] = rows[0].model_copy(update={"text": "banjir 😭 ꦧꦚ꧀ꦗꦶꦂ"})
    write_labels(tmp_path / "x.jsonl", rows)
    assert load_labels(tmp_path / "x.jsonl") == rows


def test_interrupted_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "x.jsonl"
    write_labels(path, make_rows()[:3])
    before = path.read_bytes()
    with pytest.raises(RuntimeError), atomic_writer(path) as fh:
        fh.write("half a line")
        raise RuntimeError("killed mid-write")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.jsonl"]  # no temp file left behind
