"""The models the API serves, loaded once and swapped atomically on reload.

A request takes a reference to the current :class:`RoutingModels` when it starts,
so a reload never changes the models under a request in flight; a load that fails
leaves the previous models serving.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from serving.schemas import ModelInfo, ModelsPublic
from serving.settings import Settings
from training.export import read_export_meta
from training.predict import LoadedModel, load_model

logger = logging.getLogger(__name__)
REQUIRED_TASKS = ("topic", "urgency")
OPTIONAL_TASKS = ("lang",)


@dataclass
class Prediction:
    """Label ids and confidences for a batch, one array per task."""

    labels: dict[str, list[str]]
    confidences: dict[str, np.ndarray]
    seconds: float

    def row(self, i: int) -> Prediction:
        """The prediction of item ``i`` alone."""
        return Prediction(
            {t: [v[i]] for t, v in self.labels.items()},
            {t: v[i : i + 1] for t, v in self.confidences.items()},
            self.seconds,
        )


@dataclass(frozen=True)
class RoutingModels:
    """Topic and urgency models (and an optional language model) with their provenance."""

    models: dict[str, LoadedModel]
    source: str
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    infos: tuple[ModelInfo, ...] = ()

    def version(self, task: str) -> str:
        return self.models[task].version if task in self.models else "none"

    def predict(self, texts: list[str]) -> Prediction:
        """One vectorised call per model for the whole batch."""
        t0 = time.perf_counter()
        labels, confidences = {}, {}
        for task, model in self.models.items():
            proba = model.classifier.predict_proba(texts)
            labels[task] = [model.classifier.labels[i] for i in proba.argmax(axis=1)]
            confidences[task] = proba.max(axis=1)
        return Prediction(labels, confidences, time.perf_counter() - t0)

    def public(self) -> ModelsPublic:
        return ModelsPublic(source=self.source, loaded_at=self.loaded_at, models=list(self.infos))


def _info(task: str, loaded: LoadedModel, folder: Path | None) -> ModelInfo:
    meta = read_export_meta(folder) if folder else {}
    metrics = {k: float(v) for k, v in meta.get("metrics", {}).items() if k.startswith("test_")}
    return ModelInfo(
        task=task,
        version=loaded.version,
        family=loaded.classifier.family,
        labels=loaded.classifier.labels,
        run_id=meta.get("run_id"),
        metrics=metrics,
    )


def load_models(settings: Settings, models_dir: str | Path | None = None) -> RoutingModels:
    """Load from an exported folder (default) or registry aliases; raise with a reason on failure."""
    if models_dir is not None or settings.model_source == "export":
        root = Path(models_dir or settings.models_dir)
        missing = [t for t in REQUIRED_TASKS if not (root / t).is_dir()]
        if missing:
            raise FileNotFoundError(f"{root}: no exported model for {missing} (run `kemala export` or `make run`)")
        tasks = [*REQUIRED_TASKS, *(t for t in OPTIONAL_TASKS if (root / t).is_dir())]
        loaded = {t: load_model(str(root / t), t) for t in tasks}
        infos = tuple(_info(t, loaded[t], root / t) for t in tasks)
        return RoutingModels(loaded, f"export:{root}", infos=infos)
    from training.tracking import alias_version, configure

    configure(settings.tracking_uri)
    loaded = {t: load_model(f"models:/kemala-{t}@{settings.registry_alias}", t) for t in REQUIRED_TASKS}
    if alias_version("kemala-lang", settings.registry_alias) is not None:
        loaded["lang"] = load_model(f"models:/kemala-lang@{settings.registry_alias}", "lang")
    infos = tuple(_info(t, m, None) for t, m in loaded.items())
    return RoutingModels(loaded, f"registry:@{settings.registry_alias}", infos=infos)


class ModelHolder:
    """Holds the current models; ``reload`` swaps them in one assignment under a lock."""

    def __init__(self) -> None:
        self._current: RoutingModels | None = None
        self._lock = threading.Lock()
        self.error: str | None = "models not loaded yet"

    @property
    def current(self) -> RoutingModels | None:
        return self._current

    def reload(self, settings: Settings, models_dir: str | Path | None = None) -> RoutingModels:
        """Load new models and swap them in; on failure keep the old ones and re-raise."""
        with self._lock:  # one reload at a time; requests never wait on this lock
            try:
                fresh = load_models(settings, models_dir)
                fresh.predict(["warm-up: lazy weights load here, not in the first request"])
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if self._current is None:
                    self.error = reason
                logger.error("model load failed: %s", reason)
                raise
            self._current, self.error = fresh, None
            logger.info("serving models from %s: %s", fresh.source, {t: m.version for t, m in fresh.models.items()})
            return fresh
