"""Deterministic, stratified train/validation/test splits for the label store.

Splits are stored in ``data/labels/splits.csv`` (``id,split``) so every run and
every report uses the same test set. Existing assignments never move; new rows
join the split of a near-duplicate already assigned, otherwise they are assigned
by a stratified group split (topic x language) with a fixed seed.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from training.dedup import near_duplicate_groups
from training.labels import LabelRow, atomic_writer

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
SPLITS_FILENAME = "splits.csv"
# 10 folds: 8 train, 1 valid, 1 test -> 80/10/10.
_N_FOLDS = 10
_FOLD_TO_SPLIT = {0: "test", 1: "valid"}


def read_splits(path: str | Path) -> dict[str, str]:
    """Read ``id,split`` rows; raise ValueError naming file and line on a bad row."""
    path = Path(path)
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != ["id", "split"]:
            raise ValueError(f"{path}:1: header: expected 'id,split', got {reader.fieldnames}")
        for lineno, rec in enumerate(reader, start=2):
            if rec["split"] not in SPLITS:
                raise ValueError(f"{path}:{lineno}: split: unknown split {rec['split']!r}")
            if rec["id"] in out:
                raise ValueError(f"{path}:{lineno}: id: duplicate id {rec['id']!r}")
            out[rec["id"]] = rec["split"]
    return out


def write_splits(path: str | Path, assignment: dict[str, str]) -> None:
    """Atomically write the assignment, sorted by id for stable diffs."""
    with atomic_writer(path) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["id", "split"])
        for row_id in sorted(assignment):
            writer.writerow([row_id, assignment[row_id]])


def _stratified_group_assign(strata: Sequence[str], groups: np.ndarray, seed: int) -> list[str]:
    if len(set(groups.tolist())) < _N_FOLDS:
        # Too few groups to stratify (a small weekly batch): a seeded draw per group.
        rng = np.random.default_rng(seed)
        draw = {g: rng.integers(_N_FOLDS) for g in sorted(set(groups.tolist()))}
        return [_FOLD_TO_SPLIT.get(int(draw[g]), "train") for g in groups.tolist()]
    counts = Counter(strata)
    # Strata too small to spread over the folds are merged into one "rare" stratum.
    y = [s if counts[s] >= _N_FOLDS else "rare" for s in strata]
    splitter = StratifiedGroupKFold(n_splits=_N_FOLDS, shuffle=True, random_state=seed)
    out = ["train"] * len(y)
    for fold, (_, test_idx) in enumerate(splitter.split(np.zeros(len(y)), y, groups)):
        for i in test_idx:
            out[i] = _FOLD_TO_SPLIT.get(fold, "train")
    return out


def assign_splits(rows: Sequence[LabelRow], existing: dict[str, str] | None = None, seed: int = 13) -> dict[str, str]:
    """Return ``{id: split}`` for every row, keeping every existing assignment.

    Near-duplicates (character 5-gram Jaccard >= 0.6) always share a split.
    """
    existing = dict(existing or {})
    groups = near_duplicate_groups([r.text for r in rows])
    group_split: dict[int, str] = {}
    for row, g in zip(rows, groups, strict=True):
        if row.id in existing:
            group_split.setdefault(int(g), existing[row.id])
    new_idx = [i for i, r in enumerate(rows) if r.id not in existing]
    assignment = {r.id: existing[r.id] for r in rows if r.id in existing}
    free = [i for i in new_idx if int(groups[i]) not in group_split]
    for i in new_idx:
        if int(groups[i]) in group_split:
            assignment[rows[i].id] = group_split[int(groups[i])]
    if free:
        strata = [f"{rows[i].topic}|{rows[i].lang}" for i in free]
        chosen = _stratified_group_assign(strata, groups[free], seed)
        for i, split in zip(free, chosen, strict=True):
            assignment[rows[i].id] = split
    logger.info("split assignment: %s", dict(Counter(assignment.values())))
    return assignment
