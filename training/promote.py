"""The promotion gate: move ``@champion`` to a challenger only when it is better.

A challenger replaces the champion when, on the fixed test split, its macro-F1
rises by at least ``min_gain``, no class F1 drops by more than ``max_class_drop``,
and ``darurat`` recall does not drop. The first model ever is promoted directly;
``--version N`` sets the champion by hand (rollback). Every decision and its
comparison are written as tags on the model version and on its run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlflow import MlflowClient
from training.config import DEFAULT_LABEL_STORE
from training.data import Split, load_corpus_task
from training.evaluate import Evaluation, evaluate_predictions
from training.models import load_classifier
from training.taxonomy import EMERGENCY
from training.tracking import CHALLENGER, CHAMPION, alias_version, classifier_dir, configure

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateSettings:
    """Thresholds of the promotion gate."""

    min_gain: float = 0.0  # macro-F1 must rise by at least this much
    max_class_drop: float = 0.05  # no class F1 may fall by more than this

    def __post_init__(self) -> None:
        if not -1 <= self.min_gain <= 1:
            raise ValueError("min_gain must be within [-1, 1]")
        if not 0 <= self.max_class_drop <= 1:
            raise ValueError("max_class_drop must be within [0, 1]")


@dataclass
class Decision:
    """What the gate decided and why, with the numbers it compared."""

    model: str
    promoted: bool
    reason: str
    challenger_version: str | None
    champion_version: str | None
    comparison: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The registry hands back versions as int or str depending on the call; keep one form.
        self.challenger_version = None if self.challenger_version is None else str(self.challenger_version)
        self.champion_version = None if self.champion_version is None else str(self.champion_version)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=float)


def compare(challenger: Evaluation, champion: Evaluation, gate: GateSettings) -> tuple[bool, list[str], dict[str, Any]]:
    """Apply the gate to two evaluations on the same data; return (pass, failures, numbers)."""
    gain = challenger.metrics["macro_f1"] - champion.metrics["macro_f1"]
    failures = []
    if gain < gate.min_gain:
        failures.append(f"macro-F1 gain {gain:+.4f} < required {gate.min_gain:+.4f}")
    ch = challenger.per_class.set_index("label")["f1"]
    cp = champion.per_class.set_index("label")["f1"]
    drops = {label: float(cp[label] - ch[label]) for label in ch.index if label in cp.index}
    worst = max(drops, key=drops.get) if drops else None
    if worst is not None and drops[worst] > gate.max_class_drop:
        failures.append(f"class {worst} F1 dropped {drops[worst]:.4f} > allowed {gate.max_class_drop:.4f}")
    numbers: dict[str, Any] = {
        "challenger_macro_f1": challenger.metrics["macro_f1"],
        "champion_macro_f1": champion.metrics["macro_f1"],
        "macro_f1_gain": gain,
        "largest_class_drop": drops.get(worst, 0.0) if worst else 0.0,
        "largest_class_drop_label": worst,
    }
    if "darurat_recall" in challenger.metrics:
        numbers["challenger_darurat_recall"] = challenger.metrics["darurat_recall"]
        numbers["champion_darurat_recall"] = champion.metrics["darurat_recall"]
        if challenger.metrics["darurat_recall"] < champion.metrics["darurat_recall"]:
            failures.append(
                f"{EMERGENCY} recall fell {champion.metrics['darurat_recall']:.4f} -> "
                f"{challenger.metrics['darurat_recall']:.4f}"
            )
    return not failures, failures, numbers


def _evaluate_version(model_name: str, version: str, split: Split, task: str) -> Evaluation:
    clf = load_classifier(classifier_dir(f"models:/{model_name}/{version}"))
    proba = clf.predict_proba(split.texts)
    return evaluate_predictions(task, clf.labels, split.labels, np.asarray(proba), split.texts, split.langs, split.ids)


def _record(decision: Decision, version: str | None) -> None:
    if version is None:
        return
    client = MlflowClient()
    tags = {
        "promotion.decision": "promoted" if decision.promoted else "rejected",
        "promotion.reason": decision.reason[:5000],
        "promotion.champion_version": str(decision.champion_version),
        "promotion.comparison": json.dumps(decision.comparison, default=float)[:5000],
    }
    for key, value in tags.items():
        client.set_model_version_tag(decision.model, version, key, value)
    run_id = client.get_model_version(decision.model, version).run_id
    if run_id:
        for key, value in tags.items():
            client.set_tag(run_id, key, value)


def promote(
    task: str,
    model_name: str | None = None,
    version: str | None = None,
    gate: GateSettings | None = None,
    store: Path = DEFAULT_LABEL_STORE,
    tracking_uri: str | None = None,
) -> Decision:
    """Run the gate for a task's challenger (or force ``version``); move ``@champion`` if it passes."""
    configure(tracking_uri)
    gate = gate or GateSettings()
    name = model_name or f"kemala-{task}"
    client = MlflowClient()
    champion = alias_version(name, CHAMPION)
    if version is not None:
        client.get_model_version(name, version)  # fails clearly if it does not exist
        decision = Decision(
            name,
            True,
            f"set by hand (rollback/override) to version {version}",
            version,
            champion.version if champion else None,
        )
    else:
        challenger = alias_version(name, CHALLENGER)
        if challenger is None:
            raise LookupError(f"{name}: no @{CHALLENGER} to promote; train a model first")
        if champion is None:
            decision = Decision(name, True, "first model: promoted directly", challenger.version, None)
        elif str(champion.version) == str(challenger.version):
            decision = Decision(
                name,
                False,
                "challenger is already the champion",
                challenger.version,
                champion.version,
            )
        else:
            test = load_corpus_task(store, task).test
            if test is None or not len(test):
                raise ValueError(f"{store}: the test split is empty; cannot compare models")
            ev_new = _evaluate_version(name, challenger.version, test, task)
            ev_old = _evaluate_version(name, champion.version, test, task)
            passed, failures, numbers = compare(ev_new, ev_old, gate)
            reason = "passed the gate" if passed else "; ".join(failures)
            numbers["test_rows"] = len(test)
            decision = Decision(name, passed, reason, challenger.version, champion.version, numbers)
    target = decision.challenger_version
    if decision.promoted and target is not None:
        client.set_registered_model_alias(name, CHAMPION, target)
    _record(decision, target)
    logger.info("%s: %s (%s)", name, "promoted" if decision.promoted else "kept champion", decision.reason)
    return decision
