"""The label store: the JSON Lines row format, a validating loader and atomic writes.

A label file holds one tweet per line::

    {"id": "...", "text": "...", "topic": "...", "urgency": "...", "lang": "...",
     "source": "...", "annotator": "...", "labelled_at": "2026-11-27T10:00:00Z",
     "created_at": null, "region": null}

The loader checks every row and reports *all* problems as ``file:line: field: problem``
before failing, so an annotator can fix a file in one pass. No torch import here.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from training.regions import CANONICAL_REGIONS
from training.taxonomy import Taxonomy, default_taxonomy

REQUIRED_FIELDS = ("id", "text", "topic", "urgency", "lang", "source", "annotator", "labelled_at")
OPTIONAL_FIELDS = ("created_at", "region")
CORPUS_DIRNAME = "corpus"


class LabelRow(BaseModel):
    """One labelled tweet with its provenance."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)
    id: str = Field(min_length=1, max_length=100)
    text: str
    topic: str
    urgency: str
    lang: str
    source: str = Field(min_length=1)
    annotator: str = Field(min_length=1)
    labelled_at: datetime
    created_at: datetime | None = None
    region: str | None = None

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("empty text")
        if "\x00" in v:
            raise ValueError("contains a NUL character")
        return v

    @field_validator("region")
    @classmethod
    def _known_region(cls, v: str | None) -> str | None:
        if v is not None and v not in CANONICAL_REGIONS:
            raise ValueError(f"unknown region {v!r} (use a canonical Central Java name or null)")
        return v

    def to_json(self) -> str:
        """Serialise as one JSON line (UTF-8 text kept readable, not escaped)."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False)


@dataclass(frozen=True)
class RowError:
    """One problem in one row of one file."""

    path: Path
    line: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.problem}"


class LabelFileError(ValueError):
    """Raised when label files hold invalid rows; ``errors`` lists every one."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        shown = "\n".join(str(e) for e in errors[:50])
        more = f"\n... and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"{len(errors)} invalid label row(s):\n{shown}{more}")


def _check_labels(row: LabelRow, taxonomy: Taxonomy) -> list[tuple[str, str]]:
    problems = []
    for field, allowed in (
        ("topic", taxonomy.topic_ids),
        ("urgency", taxonomy.urgency_ids),
        ("lang", taxonomy.lang_ids),
    ):
        value = getattr(row, field)
        if value not in allowed:
            problems.append((field, f"unknown label id {value!r} (allowed: {', '.join(allowed)})"))
    return problems


def parse_line(raw: bytes, taxonomy: Taxonomy) -> tuple[LabelRow | None, list[tuple[str, str]]]:
    """Parse one raw line; return the row (or None) and a list of (field, problem)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [("<line>", f"invalid UTF-8 at byte {exc.start}")]
    try:
        obj: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [("<line>", f"bad JSON: {exc.msg} at column {exc.colno}")]
    if not isinstance(obj, dict):
        return None, [("<line>", f"expected a JSON object, got {type(obj).__name__}")]
    try:
        row = LabelRow.model_validate(obj)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "<row>"
            msg = "missing field" if err["type"] == "missing" else err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown field"
            problems.append((field, msg))
        return None, problems
    return row, _check_labels(row, taxonomy)


def iter_label_files(path: str | Path) -> list[Path]:
    """The label files under ``path``: the file itself, or ``corpus/*.jsonl`` in a store folder."""
    path = Path(path)
    if path.is_file():
        return [path]
    corpus = path / CORPUS_DIRNAME if (path / CORPUS_DIRNAME).is_dir() else path
    files = sorted(corpus.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"{path}: no label files (*.jsonl) found")
    return files


def load_labels(path: str | Path, taxonomy: Taxonomy | None = None) -> list[LabelRow]:
    """Load and validate every label file under ``path``.

    Raises :class:`LabelFileError` listing every bad row (unknown label id, missing
    field, empty text, duplicate id, invalid UTF-8, bad JSON) as ``file:line: field: problem``.
    """
    taxonomy = taxonomy or default_taxonomy()
    rows: list[LabelRow] = []
    errors: list[RowError] = []
    seen: dict[str, tuple[Path, int]] = {}
    for file in iter_label_files(path):
        with file.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                row, problems = parse_line(raw.rstrip(b"\r\n"), taxonomy)
                errors.extend(RowError(file, lineno, f, p) for f, p in problems)
                if row is None:
                    continue
                if row.id in seen:
                    first_file, first_line = seen[row.id]
                    errors.append(
                        RowError(
                            file,
                            lineno,
                            "id",
                            f"duplicate id {row.id!r} (first at {first_file}:{first_line})",
                        )
                    )
                    continue
                seen[row.id] = (file, lineno)
                if not problems:
                    rows.append(row)
    if errors:
        raise LabelFileError(errors)
    return rows


@contextmanager
def atomic_writer(path: str | Path) -> Iterator[Any]:
    """Write a file atomically: temp file in the same folder, fsync, then rename.

    A crash at any point leaves either the old file or the new one, never a mix.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_labels(path: str | Path, rows: Iterable[LabelRow]) -> int:
    """Atomically (re)write a label file; return the number of rows written."""
    n = 0
    with atomic_writer(path) as fh:
        for row in rows:
            fh.write(row.to_json() + "\n")
            n += 1
    return n
