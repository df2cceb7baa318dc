"""The main job: train both routing tasks, promote through the gate, evaluate the champions, export."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.config import TrainConfig, load_config
from training.evaluate import evaluate_model
from training.export import DEFAULT_EXPORT_DIR, export_champions
from training.promote import Decision, GateSettings, promote
from training.tracking import CHAMPION, configure
from training.train import train

logger = logging.getLogger(__name__)


@dataclass
class PipelineResult:
    """What the main job did, for printing."""

    tracking_uri: str
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)
    reports: dict[str, Path] = field(default_factory=dict)
    exports: dict[str, Path] = field(default_factory=dict)

    def describe(self) -> str:
        lines = [f"MLflow tracking URI: {self.tracking_uri}"]
        for task, run in self.runs.items():
            d = self.decisions[task]
            test_f1 = run.get("test_macro_f1", float("nan"))
            lines.append(
                f"{task}: run {run['run_id']} -> {d.model} v{run['model_version']} "
                f"(valid macro-F1 {run['valid_macro_f1']:.3f}, test macro-F1 {test_f1:.3f}); "
                f"{'promoted to @champion' if d.promoted else 'champion kept'}: {d.reason}"
            )
        lines += [f"{task} champion report: {path.resolve()}" for task, path in self.reports.items()]
        lines += [f"{task} exported to: {path.resolve()}" for task, path in self.exports.items()]
        return "\n".join(lines)


def train_gate_report(
    cfg: TrainConfig, report_dir: Path, tracking_uri: str | None = None, gate: GateSettings | None = None
) -> tuple[dict[str, Any], Decision, Path]:
    """One task's round: train a challenger, run the gate, report on whichever model is champion after it."""
    run = train(cfg, tracking_uri)
    decision = promote(cfg.task, model_name=cfg.model_name, gate=gate, store=cfg.data, tracking_uri=tracking_uri)
    out = evaluate_model(
        f"models:/{cfg.model_name}@{CHAMPION}", cfg.data, report_dir / cfg.task, tracking_uri=tracking_uri
    )
    return run, decision, out["report"]


def run_pipeline(
    configs: list[str],
    overrides: list[str],
    report_dir: Path,
    tracking_uri: str | None = None,
    export_dir: Path = DEFAULT_EXPORT_DIR,
) -> PipelineResult:
    """Train each config, gate it, report on each champion, export the champions."""
    result = PipelineResult(configure(tracking_uri))
    for name in configs:
        cfg = load_config(name, overrides)
        run, decision, report = train_gate_report(cfg, report_dir, tracking_uri)
        result.runs[cfg.task], result.decisions[cfg.task], result.reports[cfg.task] = run, decision, report
    result.exports = export_champions(export_dir, tuple(result.runs), tracking_uri)
    return result
