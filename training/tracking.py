"""MLflow wiring: the embedded default store, the pyfunc wrapper, the registry.

Default tracking is SQLite under ``mlflow/`` with artefacts in ``mlflow/artifacts/``;
``MLFLOW_TRACKING_URI`` (or an explicit URI) points the same code at a server.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

import mlflow
from mlflow import MlflowClient
from training.models import TextClassifier, load_classifier
from training.taxonomy import REPO_ROOT

logger = logging.getLogger(__name__)

MLFLOW_DIR = REPO_ROOT / "mlflow"
DEFAULT_TRACKING_URI = f"sqlite:///{MLFLOW_DIR / 'mlflow.db'}"
ARTIFACT_ROOT = MLFLOW_DIR / "artifacts"
CHAMPION, CHALLENGER = "champion", "challenger"
MODEL_ARTIFACT = "model"
_PIP_PACKAGES = (
    "torch",
    "transformers",
    "scikit-learn",
    "numpy",
    "pandas",
    "ftfy",
    "pydantic",
    "pyyaml",
    "joblib",
)


def tracking_uri(uri: str | None = None) -> str:
    """The URI in effect: explicit, else ``MLFLOW_TRACKING_URI``, else the embedded SQLite store."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def configure(uri: str | None = None) -> str:
    """Point MLflow (tracking and registry) at the store; create ``mlflow/`` if it is local."""
    resolved = tracking_uri(uri)
    if resolved.startswith("sqlite:///"):
        Path(resolved.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    return resolved


def use_experiment(name: str) -> str:
    """Create the experiment if needed (artefacts under ``mlflow/artifacts`` for local stores)."""
    client = MlflowClient()
    exp = client.get_experiment_by_name(name)
    if exp is None:
        location = None
        if mlflow.get_tracking_uri().startswith("sqlite:"):
            location = (Path(mlflow.get_tracking_uri().removeprefix("sqlite:///")).parent / "artifacts" / name).as_uri()
        exp_id = client.create_experiment(name, artifact_location=location)
    else:
        exp_id = exp.experiment_id
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


def git_commit() -> str | None:
    """The repository's HEAD commit, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


# MLflow nags about type hints on PythonModel.predict; we take a DataFrame or a list on purpose.
warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method.*")


class KemalaPyfunc(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc around a saved Kemala classifier folder (labels and normalisation inside).

    Input: a DataFrame with a ``text`` column (or a list of strings). Output: one row per
    text with ``label``, ``confidence`` and a ``p_<label>`` probability column per class.
    """

    def load_context(self, context) -> None:
        self.classifier = load_classifier(context.artifacts["model_dir"])

    def predict(self, context, model_input, params=None):
        if isinstance(model_input, pd.DataFrame):
            texts = model_input["text"].astype(str).tolist()
        else:
            texts = [str(t) for t in model_input]
        return predictions_frame(self.classifier, texts)


def predictions_frame(classifier: TextClassifier, texts: list[str]) -> pd.DataFrame:
    """Label, confidence and per-class probabilities as a DataFrame."""
    proba = classifier.predict_proba(texts)
    labels = classifier.labels
    frame = pd.DataFrame(proba, columns=[f"p_{label}" for label in labels])
    frame.insert(0, "confidence", proba.max(axis=1) if len(texts) else np.zeros(0))
    frame.insert(0, "label", [labels[i] for i in proba.argmax(axis=1)] if len(texts) else [])
    return frame


def _pip_requirements() -> list[str]:
    reqs = []
    for name in _PIP_PACKAGES:
        try:
            reqs.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return reqs


def log_classifier(
    classifier: TextClassifier, task: str, registered_name: str | None, example_texts: list[str]
) -> tuple[str, ModelVersion | None]:
    """Log the classifier as a pyfunc in the active run; register it and alias it ``challenger``."""
    with tempfile.TemporaryDirectory(prefix="kemala-model-") as tmp:
        model_dir = classifier.save(Path(tmp) / "classifier")
        example = pd.DataFrame({"text": example_texts[:3]})
        signature = infer_signature(example, predictions_frame(classifier, example["text"].tolist()))
        info = mlflow.pyfunc.log_model(
            name=MODEL_ARTIFACT,
            python_model=KemalaPyfunc(),
            artifacts={"model_dir": str(model_dir)},
            code_paths=[str(Path(__file__).parent)],
            signature=signature,
            input_example=example,
            pip_requirements=_pip_requirements(),
            metadata={"task": task, "family": classifier.family, "labels": classifier.labels},
            registered_model_name=registered_name,
        )
    version = None
    if registered_name:
        version = MlflowClient().get_model_version(registered_name, str(info.registered_model_version))
        MlflowClient().set_registered_model_alias(registered_name, CHALLENGER, version.version)
        logger.info("registered %s version %s as @%s", registered_name, version.version, CHALLENGER)
    return info.model_uri, version


def alias_version(name: str, alias: str) -> ModelVersion | None:
    """The model version holding an alias, or None when the alias (or model) does not exist."""
    try:
        return MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def classifier_dir(model_uri: str) -> Path:
    """Download a logged pyfunc model and return its Kemala classifier folder."""
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri))
    found = list(local.glob("artifacts/*/kemala_model.json"))
    if not found:
        raise FileNotFoundError(f"{model_uri}: not a Kemala model (no classifier folder in its artifacts)")
    return found[0].parent


def version_metrics(version: ModelVersion) -> dict[str, Any]:
    """The final metrics of the run that produced a model version."""
    if not version.run_id:
        return {}
    return dict(MlflowClient().get_run(version.run_id).data.metrics)
