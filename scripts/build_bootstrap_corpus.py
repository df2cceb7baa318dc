"""Build data/labels/corpus/bootstrap-v1.jsonl from the hand-written drafts and the review pass.

Inputs (kept unchanged in the repository, for provenance):
  data/labels/drafts/h*.jsonl          tweets as written, one slice (topic x language x tone) per writer
  data/labels/drafts/review/*.jsonl    second-pass corrections: {"file", "line", "field", "new", "reason"}
Outputs:
  data/labels/corpus/bootstrap-v1.jsonl   the label file (validated on write)
  data/labels/bootstrap-v1.meta.csv       id -> draft file/line, tone, hard-case flag (for slices)

Run:  .venv/bin/python scripts/build_bootstrap_corpus.py
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from pathlib import Path

from training.dedup import NEAR_DUPLICATE_JACCARD, similar_pairs
from training.labels import LabelRow, atomic_writer, load_labels, write_labels
from training.labelstore import update_splits

ROOT = Path(__file__).resolve().parent.parent
DRAFTS = ROOT / "data" / "labels" / "drafts"
STORE = ROOT / "data" / "labels"
OUT = STORE / "corpus" / "bootstrap-v1.jsonl"
META = STORE / "bootstrap-v1.meta.csv"
LABELLED_AT = "2026-11-27T00:00:00Z"
LABEL_FIELDS = ("topic", "urgency", "lang", "region")

log = logging.getLogger("build_bootstrap")


def load_corrections() -> dict[tuple[str, int], dict[str, str]]:
    fixes: dict[tuple[str, int], dict[str, str]] = {}
    for path in sorted((DRAFTS / "review").glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            fix = json.loads(line)
            if fix["field"] not in LABEL_FIELDS:
                raise ValueError(f"{path}:{n}: field: corrections may only change {LABEL_FIELDS}")
            fixes.setdefault((fix["file"], int(fix["line"])), {})[fix["field"]] = fix["new"]
    return fixes


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    fixes = load_corrections()
    drafts = []
    for path in sorted(DRAFTS.glob("h*.jsonl")):
        writer = path.name.split("_", 1)[0]
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                drafts.append((path.name, n, writer, json.loads(line)))
    # Drop near-duplicates across slices (keep the first); the corpus test enforces none remain.
    dropped = {j for _, j, _ in similar_pairs([d[3]["text"] for d in drafts], NEAR_DUPLICATE_JACCARD)}
    rows, meta = [], []
    for i, (name, n, writer, draft) in enumerate(drafts):
        if i in dropped:
            log.info("drop near-duplicate %s:%d", name, n)
            continue
        fields = {k: draft.get(k) for k in LABEL_FIELDS} | fixes.get((name, n), {})
        row_id = f"kb1-{len(rows) + 1:05d}"
        rows.append(
            LabelRow(
                id=row_id,
                text=draft["text"],
                source="bootstrap-v1:written",
                annotator=writer,
                labelled_at=LABELLED_AT,
                **fields,
            )
        )
        meta.append(
            {
                "id": row_id,
                "draft": f"{name}:{n}",
                "tone": draft.get("tone"),
                "hard": bool(draft.get("hard")),
                "corrected": ",".join(sorted(fixes.get((name, n), {}))),
            }
        )
    write_labels(OUT, rows)
    with atomic_writer(META) as fh:
        writer_csv = csv.DictWriter(fh, fieldnames=list(meta[0]), lineterminator="\n")
        writer_csv.writeheader()
        writer_csv.writerows(meta)
    load_labels(OUT)  # validates what was written
    log.info(
        "wrote %d rows (%d corrections applied, %d near-duplicates dropped)",
        len(rows),
        sum(bool(m["corrected"]) for m in meta),
        len(dropped),
    )
    log.info("splits: %s", update_splits(STORE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
