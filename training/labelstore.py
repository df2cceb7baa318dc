"""Label-store level operations: validate a store and report its counts, assign splits."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from training.labels import LabelRow, load_labels
from training.splits import SPLITS, SPLITS_FILENAME, assign_splits, read_splits, write_splits
from training.taxonomy import default_taxonomy, load_taxonomy


@dataclass
class StoreSummary:
    """Counts of a validated label store."""

    rows: int
    by_field: dict[str, Counter]
    unsplit: int

    def table(self) -> str:
        """Counts per topic, urgency, language and split as a plain-text table."""
        lines = [f"rows: {self.rows}"]
        for field, counter in self.by_field.items():
            lines.append(f"\n{field}:")
            lines += [f"  {key:<14} {n:>6}" for key, n in counter.most_common()]
        if self.unsplit:
            lines.append(f"\nrows without a split: {self.unsplit} (run `kemala labels split`)")
        return "\n".join(lines)


def summarize(rows: list[LabelRow], splits: dict[str, str]) -> StoreSummary:
    by_field = {f: Counter(getattr(r, f) for r in rows) for f in ("topic", "urgency", "lang")}
    by_field["split"] = Counter(splits.get(r.id, "(none)") for r in rows)
    return StoreSummary(len(rows), by_field, sum(r.id not in splits for r in rows))


def validate_store(path: str | Path) -> StoreSummary:
    """Validate taxonomy (if in the folder), every label file and ``splits.csv``; return counts."""
    path = Path(path)
    taxonomy = default_taxonomy()
    if path.is_dir() and (path / "taxonomy.yaml").exists():
        taxonomy = load_taxonomy(path / "taxonomy.yaml")
    rows = load_labels(path, taxonomy)
    splits = read_splits(path / SPLITS_FILENAME) if path.is_dir() else {}
    unknown = sorted(set(splits) - {r.id for r in rows})
    if unknown:
        raise ValueError(f"{path / SPLITS_FILENAME}: {len(unknown)} id(s) not in the label files, e.g. {unknown[:3]}")
    return summarize(rows, splits)


def update_splits(path: str | Path, seed: int = 13) -> dict[str, int]:
    """Assign a split to every row that has none; existing assignments never move."""
    path = Path(path)
    rows = load_labels(path)
    existing = read_splits(path / SPLITS_FILENAME)
    assignment = assign_splits(rows, existing, seed=seed)
    write_splits(path / SPLITS_FILENAME, assignment)
    counts = Counter(assignment.values())
    return {s: counts.get(s, 0) for s in SPLITS}
