"""Export champions to a self-contained folder that serving loads without a tracking store.

Layout of ``models/`` after ``kemala export``::

    models/<task>/kemala_model.json   # family, labels, normalisation (+ weights beside it)
    models/<task>/export.json         # registered name, version, run id, metrics, exported_at
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from training.taxonomy import REPO_ROOT
from training.tracking import CHAMPION, alias_version, classifier_dir, configure, version_metrics

logger = logging.getLogger(__name__)
DEFAULT_EXPORT_DIR = REPO_ROOT / "models"
EXPORT_META_FILE = "export.json"
ROUTING_TASKS = ("topic", "urgency")


def export_champion(
    task: str, out_root: Path = DEFAULT_EXPORT_DIR, model_name: str | None = None, alias: str = CHAMPION
) -> Path:
    """Copy a task's champion into ``out_root/<task>`` atomically; return the folder."""
    name = model_name or f"kemala-{task}"
    version = alias_version(name, alias)
    if version is None:
        raise LookupError(f"{name}: no @{alias} version to export")
    source = classifier_dir(f"models:/{name}/{version.version}")
    out_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{task}.", dir=out_root))
    try:
        shutil.copytree(source, staging / "model")
        meta: dict[str, Any] = {
            "task": task,
            "registered_model": name,
            "version": str(version.version),
            "alias": alias,
            "run_id": version.run_id,
            "metrics": {k: v for k, v in version_metrics(version).items() if k.startswith(("test_", "valid_"))},
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (staging / "model" / EXPORT_META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        target = out_root / task
        old = out_root / f".{task}.old"
        if old.exists():
            shutil.rmtree(old)
        if target.exists():
            target.rename(old)
        (staging / "model").rename(target)  # serving sees the old or the new folder, never a half one
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("exported %s v%s to %s", name, version.version, target)
    return target


def export_champions(
    out_root: Path = DEFAULT_EXPORT_DIR, tasks: tuple[str, ...] = ROUTING_TASKS, tracking_uri: str | None = None
) -> dict[str, Path]:
    """Export the champion of each routing task."""
    configure(tracking_uri)
    return {task: export_champion(task, out_root) for task in tasks}


def read_export_meta(folder: str | Path) -> dict[str, Any]:
    """``export.json`` of an exported model folder (empty dict when absent)."""
    path = Path(folder) / EXPORT_META_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
