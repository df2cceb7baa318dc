"""Fine-tuned transformer family: Hugging Face ``Trainer`` over a ``datasets.Dataset``.

Class-weighted cross-entropy, evaluation each epoch, early stopping on validation
macro-F1, and the best epoch restored at the end. Runs on CPU (frozen embedding
matrix, few epochs) and uses a GPU automatically when one is present.
"""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from sklearn.metrics import f1_score
from sklearn.utils.class_weight import compute_class_weight
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.utils import logging as hf_logging

from training.models.base import EpochCallback, TextClassifier
from training.models.embedder import resolve_model
from training.normalize import NormalizerConfig

logger = logging.getLogger(__name__)
_HF_DIR = "hf"


class _EpochReporter(TrainerCallback):
    """Forwards each epoch's validation metrics to the caller (MLflow logging)."""

    def __init__(self, on_epoch: EpochCallback):
        self.on_epoch = on_epoch

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics:
            clean = {k.removeprefix("eval_"): float(v) for k, v in metrics.items() if isinstance(v, int | float)}
            self.on_epoch(round(state.epoch or 0), clean)


def _weighted_loss(weights: torch.Tensor):
    def loss(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        return torch.nn.functional.cross_entropy(logits, labels, weight=weights.to(logits.device))

    return loss


def _macro_f1(eval_pred) -> dict[str, float]:
    logits, labels = eval_pred
    return {"macro_f1": float(f1_score(labels, np.argmax(logits, axis=-1), average="macro", zero_division=0))}


class FinetunedClassifier(TextClassifier):
    """A sequence-classification head on a pretrained encoder, trained end to end."""

    family = "finetune"

    def __init__(self, labels, normalizer: NormalizerConfig, settings: dict[str, Any]):
        super().__init__(labels, normalizer, settings)
        self.model = None
        self.tokenizer = None

    def _load_pretrained(self, source: str) -> None:
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # "newly initialized classifier" is expected here
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                source,
                num_labels=len(self.labels),
                id2label=dict(enumerate(self.labels)),
                label2id={label: i for i, label in enumerate(self.labels)},
            )
        finally:
            hf_logging.set_verbosity(verbosity)

    def _freeze(self) -> None:
        base = self.model.base_model
        if self.settings["freeze_embeddings"] and hasattr(base, "embeddings"):
            for p in base.embeddings.parameters():
                p.requires_grad = False
        layers = getattr(getattr(base, "encoder", None), "layer", [])
        for layer in list(layers)[: self.settings["freeze_layers"]]:
            for p in layer.parameters():
                p.requires_grad = False

    def _dataset(self, texts: list[str], y: np.ndarray | None = None) -> Dataset:
        prefix, max_len = self.settings["prefix"], self.settings["max_length"]
        data = {"text": [prefix + t for t in texts]}
        if y is not None:
            data["label"] = y.tolist()
        ds = Dataset.from_dict(data)
        return ds.map(
            lambda b: self.tokenizer(b["text"], truncation=True, max_length=max_len),
            batched=True,
            remove_columns=["text"],
        )

    def _fit(self, texts, y, valid, on_epoch: EpochCallback | None, seed: int) -> dict[str, Any]:
        s = self.settings
        torch.manual_seed(seed)
        self._load_pretrained(resolve_model(s["model_name"]))
        self._freeze()
        present = np.unique(y)
        weights = np.ones(len(self.labels), dtype=np.float32)
        if s["class_weighted_loss"]:
            weights[present] = compute_class_weight("balanced", classes=present, y=y)
        steps_per_epoch = math.ceil(len(texts) / s["batch_size"])
        total_steps = max(1, math.ceil(steps_per_epoch * s["epochs"]))
        callbacks: list[TrainerCallback] = []
        if on_epoch:
            callbacks.append(_EpochReporter(on_epoch))
        if valid is not None and s["early_stopping_patience"] > 0:
            callbacks.append(EarlyStoppingCallback(early_stopping_patience=s["early_stopping_patience"]))
        with tempfile.TemporaryDirectory(prefix="kemala-ft-") as out:
            args = TrainingArguments(
                output_dir=out,
                num_train_epochs=s["epochs"],
                learning_rate=s["learning_rate"],
                per_device_train_batch_size=s["batch_size"],
                per_device_eval_batch_size=s["batch_size"] * 2,
                weight_decay=s["weight_decay"],
                warmup_steps=int(s["warmup_ratio"] * total_steps),
                eval_strategy="epoch" if valid is not None else "no",
                save_strategy="epoch" if valid is not None else "no",
                save_total_limit=2,
                save_only_model=True,
                load_best_model_at_end=valid is not None,
                metric_for_best_model="macro_f1",
                greater_is_better=True,
                logging_strategy="epoch",
                report_to="none",
                seed=seed,
                disable_tqdm=False,
            )
            trainer = Trainer(
                model=self.model,
                args=args,
                train_dataset=self._dataset(texts, y),
                eval_dataset=self._dataset(*valid) if valid is not None else None,
                processing_class=self.tokenizer,
                compute_loss_func=_weighted_loss(torch.tensor(weights)),
                compute_metrics=_macro_f1,
                callbacks=callbacks,
            )
            result = trainer.train()
            self.model = trainer.model.eval()
        return {
            "epochs_run": float(trainer.state.epoch or 0),
            "best_valid_macro_f1": float(trainer.state.best_metric or float("nan")),
            "train_loss": float(result.training_loss),
        }

    @torch.inference_mode()
    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("model is not trained")
        s = self.settings
        out = []
        for i in range(0, len(texts), s["batch_size"] * 2):
            enc = self.tokenizer(
                [s["prefix"] + t for t in texts[i : i + s["batch_size"] * 2]],
                padding=True,
                truncation=True,
                max_length=s["max_length"],
                return_tensors="pt",
            )
            enc = {k: v.to(self.model.device) for k, v in enc.items()}
            out.append(torch.softmax(self.model(**enc).logits, dim=-1).float().cpu().numpy())
        return np.concatenate(out)

    def _save(self, path: Path) -> None:
        self.model.save_pretrained(path / _HF_DIR)
        self.tokenizer.save_pretrained(path / _HF_DIR)

    @classmethod
    def _load(cls, path: Path, labels, normalizer, settings) -> FinetunedClassifier:
        model = cls(labels, normalizer, settings)
        model.tokenizer = AutoTokenizer.from_pretrained(path / _HF_DIR)
        model.model = AutoModelForSequenceClassification.from_pretrained(path / _HF_DIR).eval()
        return model
