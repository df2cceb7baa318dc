"""Durable append of reviewer corrections to the feedback store (JSON Lines under data/labels/).

Each record is one line written under an exclusive lock and fsynced before the API answers,
so a crash loses at most the request in flight and concurrent writers never interleave.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line durably (lock, write, flush, fsync)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    with path.open("a", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_records(path: Path) -> list[dict[str, Any]]:
    """All records (skipping a torn last line, which can only be the write in flight)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
