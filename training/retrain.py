"""``kemala retrain``: labels in, a better model out — or a clear "not promoted".

Validate labels → assign splits to new rows → train a challenger per task → gate it against
the champion on the fixed test split → evaluate the champions → one HTML summary. Every run
carries the label data version (content digest + git commit) in MLflow. Suitable for cron:
the exit code says what happened (see :data:`EXIT_CODES`).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from training.config import DEFAULT_LABEL_STORE, load_config
from training.data import load_corpus_task
from training.labelstore import update_splits, validate_store
from training.pipeline import train_gate_report
from training.promote import Decision, GateSettings
from training.tracking import CHAMPION, alias_version, configure, git_commit

logger = logging.getLogger(__name__)
PROMOTED, NOT_PROMOTED, INVALID_LABELS = 0, 10, 2
EXIT_CODES = {
    PROMOTED: "at least one model promoted",
    NOT_PROMOTED: "trained, nothing promoted",
    INVALID_LABELS: "label store invalid, nothing trained",
}


@dataclass
class RetrainResult:
    """What retrain did (or, with ``dry_run``, would do)."""

    dry_run: bool
    data: dict[str, Any] = field(default_factory=dict)
    plans: list[str] = field(default_factory=list)
    decisions: dict[str, Decision] = field(default_factory=dict)
    reports: dict[str, Path] = field(default_factory=dict)
    summary: Path | None = None

    @property
    def exit_code(self) -> int:
        return PROMOTED if any(d.promoted for d in self.decisions.values()) else NOT_PROMOTED

    def describe(self) -> str:
        lines = [f"label data: {self.data}"] + [f"- {p}" for p in self.plans]
        for task, d in self.decisions.items():
            lines.append(
                f"{task}: {'PROMOTED' if d.promoted else 'not promoted'} v{d.challenger_version} "
                f"(champion was v{d.champion_version}): {d.reason}"
            )
        if self.summary:
            lines.append(f"summary: {self.summary.resolve()}")
        return "\n".join(lines)


def _champion_digest(task: str) -> str | None:
    version = alias_version(f"kemala-{task}", CHAMPION)
    if version is None or not version.run_id:
        return None
    return MlflowClient().get_run(version.run_id).data.tags.get("data.digest")


def _summary_html(result: RetrainResult, out: Path) -> Path:
    rows = "".join(
        f"<tr><td>{html.escape(t)}</td><td>{'promoted' if d.promoted else 'kept champion'}</td>"
        f"<td>{html.escape(str(d.challenger_version))}</td><td>{html.escape(str(d.champion_version))}</td>"
        f"<td>{html.escape(d.reason)}</td><td><a href='{html.escape(str(result.reports[t].resolve().as_uri()))}'>"
        "report</a></td></tr>"
        for t, d in result.decisions.items()
    )
    page = (
        f"<!doctype html><meta charset='utf-8'><title>Kemala retrain</title><h1>Retrain "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC</h1><p>Label data: {html.escape(str(result.data))}</p>"
        "<table border=1 cellpadding=4><tr><th>task</th><th>decision</th><th>challenger</th><th>champion</th>"
        f"<th>why</th><th>champion report</th></tr>{rows}</table>"
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / "retrain.html"
    path.write_text(page, encoding="utf-8")
    return path


def retrain(
    tasks: tuple[str, ...] = ("topic", "urgency"),
    store: Path = DEFAULT_LABEL_STORE,
    report_dir: Path = Path("reports/retrain"),
    gate: GateSettings | None = None,
    dry_run: bool = False,
    tracking_uri: str | None = None,
    overrides: tuple[str, ...] = (),
) -> RetrainResult:
    """Run (or plan) one retraining round; raises ``LabelFileError``/``ValueError`` on invalid labels."""
    configure(tracking_uri)
    summary = validate_store(store)  # fails loudly, naming file:line:field, before anything trains
    result = RetrainResult(dry_run, {"rows": summary.rows, "unsplit": summary.unsplit, "git_commit": git_commit()})
    if summary.unsplit:
        result.plans.append(f"assign splits to {summary.unsplit} new row(s)")
        if not dry_run:
            update_splits(store)
    for task in tasks:
        digest = load_corpus_task(store, task).digest if not summary.unsplit or not dry_run else "(after split)"
        result.data[f"{task}_digest"] = digest
        champion = _champion_digest(task)
        same = champion is not None and champion == digest
        result.plans.append(
            f"{task}: train a challenger on data {digest}"
            + (" (same data as the champion: the gate will most likely keep it)" if same else "")
        )
    if dry_run:
        return result
    for task in tasks:
        cfg = load_config(task, list(overrides), data=store)
        _, result.decisions[task], result.reports[task] = train_gate_report(cfg, report_dir, tracking_uri, gate)
    result.summary = _summary_html(result, report_dir)
    return result
