"""Evaluation: metrics (scikit-learn), plots (matplotlib) and self-contained reports.

``evaluate_predictions`` computes everything from gold labels and probabilities;
``write_report`` renders it as HTML (plots embedded), Markdown and JSON/CSV files.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: reports render on servers and in CI
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
)

from training.taxonomy import CONTRACT_URGENCY, EMERGENCY

logger = logging.getLogger(__name__)
N_CALIBRATION_BINS = 10


@dataclass
class Evaluation:
    """Every number and table of one evaluation, plus what is needed to plot it."""

    task: str
    labels: list[str]
    metrics: dict[str, float]
    per_class: pd.DataFrame
    confusion: np.ndarray
    slices: pd.DataFrame
    top_confusions: list[dict[str, Any]]
    misclassified: pd.DataFrame
    reliability: tuple[np.ndarray, np.ndarray]
    confidences: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = N_CALIBRATION_BINS) -> float:
    """ECE over equal-width confidence bins (scikit-learn has no ECE metric)."""
    if len(confidence) == 0:
        return float("nan")
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def evaluate_predictions(
    task: str,
    labels: list[str],
    y_true: list[str],
    proba: np.ndarray,
    texts: list[str],
    langs: list[str | None] | None = None,
    ids: list[str] | None = None,
) -> Evaluation:
    """All metrics for one set of predictions; ``proba`` columns follow ``labels``."""
    y_pred = [labels[i] for i in proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    correct = np.array([t == p for t, p in zip(y_true, y_pred, strict=True)])
    report = classification_report(y_true, y_pred, labels=labels, output_dict=True, zero_division=0)
    per_class = pd.DataFrame(
        [
            {
                "label": lab,
                **{k: report[lab][k] for k in ("precision", "recall", "f1-score", "support")},
            }
            for lab in labels
        ]
    ).rename(columns={"f1-score": "f1"})
    metrics = {
        "accuracy": accuracy_score(y_true, y_pred),
        "macro_f1": f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0),
        "weighted_f1": f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0),
        "ece": expected_calibration_error(confidence, correct),
        "n": float(len(y_true)),
    }
    if EMERGENCY in labels:
        row = per_class.set_index("label").loc[EMERGENCY]
        metrics["darurat_recall"] = float(row["recall"])
        metrics["darurat_precision"] = float(row["precision"])
    if set(labels) == set(CONTRACT_URGENCY):
        rank = {u: i for i, u in enumerate(CONTRACT_URGENCY)}
        metrics["ordinal_mae"] = mean_absolute_error([rank[t] for t in y_true], [rank[p] for p in y_pred])
    slices = _slices(y_true, y_pred, labels, langs)
    for _, s in slices.iterrows():
        metrics[f"macro_f1_{s['slice']}"] = float(s["macro_f1"])
    if len(correct) and correct.any() and (~correct).any():
        prob_true, prob_pred = calibration_curve(correct, confidence, n_bins=N_CALIBRATION_BINS, strategy="uniform")
    else:
        prob_true = prob_pred = np.zeros(0)
    frame = pd.DataFrame(
        {
            "id": ids or [str(i) for i in range(len(texts))],
            "text": texts,
            "gold": y_true,
            "predicted": y_pred,
            "confidence": confidence,
        }
    )
    wrong = frame[~correct].sort_values("confidence", ascending=False)
    return Evaluation(
        task,
        labels,
        {k: float(v) for k, v in metrics.items()},
        per_class,
        confusion_matrix(y_true, y_pred, labels=labels),
        slices,
        _top_confusions(wrong),
        wrong,
        (prob_true, prob_pred),
        confidence,
    )


def _slices(y_true, y_pred, labels, langs) -> pd.DataFrame:
    rows = []
    if langs and any(langs):
        for lang in sorted({lang for lang in langs if lang}):
            idx = [i for i, v in enumerate(langs) if v == lang]
            t, p = [y_true[i] for i in idx], [y_pred[i] for i in idx]
            rows.append(
                {
                    "slice": lang,
                    "n": len(idx),
                    "accuracy": accuracy_score(t, p),
                    "macro_f1": f1_score(t, p, labels=sorted(set(t)), average="macro", zero_division=0),
                }
            )
    return pd.DataFrame(rows, columns=["slice", "n", "accuracy", "macro_f1"])


def _top_confusions(wrong: pd.DataFrame, k: int = 8, examples: int = 2) -> list[dict[str, Any]]:
    pairs = Counter(zip(wrong["gold"], wrong["predicted"], strict=True)).most_common(k)
    out = []
    for (gold, pred), count in pairs:
        sample = wrong[(wrong["gold"] == gold) & (wrong["predicted"] == pred)].head(examples)
        out.append({"gold": gold, "predicted": pred, "count": count, "examples": sample["text"].tolist()})
    return out


# -- rendering -----------------------------------------------------------------------------
def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def confusion_png(ev: Evaluation) -> bytes:
    size = max(5, 0.55 * len(ev.labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay(ev.confusion, display_labels=ev.labels).plot(ax=ax, xticks_rotation=60, colorbar=False)
    ax.set_title(f"{ev.task}: confusion matrix (rows = gold)")
    return _png(fig)


def reliability_png(ev: Evaluation) -> bytes:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    prob_true, prob_pred = ev.reliability
    ax.plot(prob_pred, prob_true, "o-", label=f"model (ECE {ev.metrics['ece']:.3f})")
    ax.hist(
        ev.confidences,
        bins=N_CALIBRATION_BINS,
        range=(0, 1),
        weights=np.full(len(ev.confidences), 1 / max(1, len(ev.confidences))),
        alpha=0.25,
        label="share of predictions",
    )
    ax.set(
        xlabel="confidence",
        ylabel="accuracy",
        title=f"{ev.task}: reliability",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(loc="upper left")
    return _png(fig)


def summary_markdown(ev: Evaluation, title: str) -> str:
    """A short Markdown summary: headline metrics, per-class table, slices, confusions."""
    m = ev.metrics
    lines = [f"# {title}", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" if k != "n" else f"| {k} | {int(v)} |" for k, v in m.items()]
    lines += ["", "## Per class", "", ev.per_class.to_markdown(index=False, floatfmt=".3f")]
    if not ev.slices.empty:
        lines += ["", "## Per language", "", ev.slices.to_markdown(index=False, floatfmt=".3f")]
    if ev.top_confusions:
        lines += [
            "",
            "## Most frequent confusions",
            "",
            "| gold | predicted | count | example |",
            "|---|---|---|---|",
        ]
        for c in ev.top_confusions:
            example = c["examples"][0].replace("|", "\\|").replace("\n", " ")[:120] if c["examples"] else ""
            lines.append(f"| {c['gold']} | {c['predicted']} | {c['count']} | {example} |")
    return "\n".join(lines) + "\n"


def _html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0, classes="t")


def report_html(ev: Evaluation, title: str, images: dict[str, bytes]) -> str:
    """One self-contained HTML page (plots embedded as base64 PNG)."""
    imgs = "".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>"
        for name, png in images.items()
    )
    metrics = pd.DataFrame([{"metric": k, "value": v} for k, v in ev.metrics.items()])
    confusions = "".join(
        f"<li><b>{html.escape(c['gold'])} → {html.escape(c['predicted'])}</b> ({c['count']}): "
        + "; ".join(f"<q>{html.escape(e)}</q>" for e in c["examples"])
        + "</li>"
        for c in ev.top_confusions
    )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table.t{border-collapse:collapse}table.t td,table.t th{padding:3px 10px;border-bottom:1px solid #ddd}"
        "figure{display:inline-block;margin:0 1em 1em 0}img{max-width:520px}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<h2>Headline</h2>{_html_table(metrics)}<h2>Per class</h2>{_html_table(ev.per_class)}"
        + (f"<h2>Per language</h2>{_html_table(ev.slices)}" if not ev.slices.empty else "")
        + f"<h2>Plots</h2>{imgs}<h2>Most frequent confusions</h2><ul>{confusions}</ul>"
        f"<h2>Misclassified (most confident first)</h2>{_html_table(ev.misclassified.head(50))}"
        "</body></html>"
    )


def write_report(ev: Evaluation, out_dir: str | Path, title: str) -> dict[str, Path]:
    """Write report.html, summary.md, metrics.json, per_class.csv, misclassified.csv and PNGs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = {"confusion_matrix.png": confusion_png(ev), "reliability.png": reliability_png(ev)}
    files = {}
    for name, png in images.items():
        (out / name).write_bytes(png)
        files[name] = out / name
    files["report.html"] = out / "report.html"
    files["report.html"].write_text(report_html(ev, title, images), encoding="utf-8")
    files["summary.md"] = out / "summary.md"
    files["summary.md"].write_text(summary_markdown(ev, title), encoding="utf-8")
    files["metrics.json"] = out / "metrics.json"
    files["metrics.json"].write_text(json.dumps(ev.metrics, indent=2), encoding="utf-8")
    files["per_class.csv"] = out / "per_class.csv"
    ev.per_class.to_csv(files["per_class.csv"], index=False)
    files["misclassified.csv"] = out / "misclassified.csv"
    ev.misclassified.to_csv(files["misclassified.csv"], index=False)
    logger.info("report written to %s", files["report.html"])
    return files


def evaluate_model(
    model_uri: str,
    data: Path,
    report_dir: Path,
    split: str = "test",
    text_col: str = "text",
    label_col: str | None = None,
    log_to_mlflow: bool = True,
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """Score a model (URI or folder) on a label-store split or a labelled file; write the report.

    The report files and metrics are also logged to MLflow, in a run of the
    ``kemala-evaluations`` experiment tagged with the model URI.
    """
    import mlflow
    from training.data import frame_split, load_corpus_splits, read_table, rows_to_split
    from training.predict import load_model
    from training.tracking import configure, use_experiment

    configure(tracking_uri)
    model = load_model(model_uri)
    task = model.task
    if Path(data).is_dir():
        rows, splits = load_corpus_splits(Path(data))
        chosen = rows_to_split([r for r in rows if splits[r.id] == split], task)
        source = f"{data} [{split}]"
    else:
        chosen = frame_split(read_table(Path(data), text_col, label_col or task), text_col, label_col or task)
        source = str(data)
    if not len(chosen):
        raise ValueError(f"{source}: no rows to evaluate")
    proba = model.classifier.predict_proba(chosen.texts)
    ev = evaluate_predictions(
        task, model.classifier.labels, chosen.labels, proba, chosen.texts, chosen.langs, chosen.ids
    )
    title = f"{task}: {model.version} on {source}"
    files = write_report(ev, report_dir, title)
    if log_to_mlflow:
        use_experiment("kemala-evaluations")
        with mlflow.start_run(run_name=f"eval-{task}"):
            mlflow.set_tags(
                {
                    "model_uri": model_uri,
                    "model_version": model.version,
                    "data": source,
                    "task": task,
                }
            )
            mlflow.log_metrics(ev.metrics)
            for path in files.values():
                mlflow.log_artifact(str(path), artifact_path="evaluation")
    return {
        "metrics": ev.metrics,
        "report": files["report.html"],
        "summary": files["summary.md"].read_text(),
    }
