"""``train(cfg) -> metrics``: one tracked, registered training run for one task."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

import mlflow
from training.config import TrainConfig
from training.data import Split, TaskData, load_task
from training.evaluate import evaluate_predictions, write_report
from training.models import TextClassifier, build_classifier
from training.tracking import configure, git_commit, log_classifier, use_experiment

logger = logging.getLogger(__name__)


def _family_settings(cfg: TrainConfig) -> dict[str, Any]:
    return getattr(cfg, cfg.family).model_dump()


def _log_inputs(data: TaskData) -> None:
    for name, split in (("train", data.train), ("valid", data.valid), ("test", data.test)):
        if split is None:
            continue
        ds = mlflow.data.from_pandas(
            split.to_frame(), source=data.source, targets="label", name=f"{data.name}:{name}", digest=data.digest
        )
        mlflow.log_input(ds, context=name)
    mlflow.log_params({f"data.n_{k}": v for k, v in data.counts().items()})
    mlflow.set_tags(
        {
            "data.name": data.name,
            "data.digest": data.digest,
            "data.source": data.source,
            "git.commit": git_commit() or "unknown",
        }
    )


def score_split(
    clf: TextClassifier, split: Split, task: str, prefix: str, report_dir: Path | None = None
) -> dict[str, float]:
    """Evaluate on a split; optionally write and log its report; return prefixed metrics."""
    t0 = time.perf_counter()
    proba = clf.predict_proba(split.texts)
    seconds = time.perf_counter() - t0
    ev = evaluate_predictions(task, clf.labels, split.labels, proba, split.texts, split.langs, split.ids)
    metrics = {f"{prefix}_{k}": v for k, v in ev.metrics.items()}
    metrics[f"{prefix}_tweets_per_second"] = len(split) / max(seconds, 1e-9)
    if report_dir is not None:
        files = write_report(ev, report_dir / prefix, f"{task} on {prefix} ({clf.family})")
        for path in files.values():
            mlflow.log_artifact(str(path), artifact_path=f"evaluation/{prefix}")
    return metrics


def train(cfg: TrainConfig, tracking_uri: str | None = None) -> dict[str, Any]:
    """Train, evaluate and log one model; return its metrics, run id and registered version."""
    configure(tracking_uri)
    use_experiment(cfg.experiment)
    data = load_task(cfg)
    logger.info("task %s: %s", data.name, data.counts())
    clf = build_classifier(cfg.family, data.labels, cfg.normalizer.build(), _family_settings(cfg))
    clf.task = cfg.task
    with (
        mlflow.start_run(run_name=f"{cfg.task}-{cfg.family}") as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        mlflow.log_params(cfg.flat())
        mlflow.log_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), "config.yaml")
        mlflow.set_tags({"task": cfg.task, "family": cfg.family})
        _log_inputs(data)

        def on_epoch(epoch: int, values: dict[str, float]) -> None:
            mlflow.log_metrics({f"epoch_valid_{k}": v for k, v in values.items()}, step=epoch)

        t0 = time.perf_counter()
        facts = clf.fit(
            data.train.texts, data.train.labels, data.valid.texts, data.valid.labels, on_epoch=on_epoch, seed=cfg.seed
        )
        metrics: dict[str, Any] = {"train_seconds": time.perf_counter() - t0}
        metrics.update({f"fit_{k}": float(v) for k, v in facts.items() if isinstance(v, int | float)})
        report_dir = Path(tmp) / "reports"
        metrics.update(score_split(clf, data.valid, cfg.task, "valid", report_dir))
        if data.test is not None and len(data.test):
            metrics.update(score_split(clf, data.test, cfg.task, "test", report_dir))
        mlflow.log_metrics(metrics)
        model_uri, version = None, None
        if cfg.log_model:
            registered = cfg.model_name if cfg.register_model else None
            model_uri, version = log_classifier(clf, cfg.task, registered, data.train.texts)
        result = dict(
            metrics,
            run_id=run.info.run_id,
            model_uri=model_uri,
            model_version=str(version.version) if version else None,
        )
    logger.info("run %s: valid macro-F1 %.4f", result["run_id"], metrics["valid_macro_f1"])
    return result
