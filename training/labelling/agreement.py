"""Inter-annotator agreement on the annotation store: Cohen's kappa, Krippendorff's alpha, confusions.

Per label field (topic, urgency, lang):

* Cohen's kappa for every annotator pair, on the tweets both labelled (urgency also gets a
  linearly weighted kappa, since its levels are ordered);
* Krippendorff's alpha over everyone (nominal for topic and lang, ordinal for urgency in the
  contract's order darurat > tinggi > sedang > rendah), using every tweet with two or more labels;
* a pooled confusion between annotators: each annotator pair on a shared tweet counts once in
  ``confusion[a][b]`` and once in ``confusion[b][a]`` (agreements once on the diagonal), and the
  per-class specific agreement ``2·n_cc / (2·n_cc + Σ_{j≠c} n_cj)`` derived from it.

Coefficients that are undefined (no shared tweets, or everyone used a single label) are ``None``.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import warnings
from collections import Counter, defaultdict
from typing import Any

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score

from training.labelling.annotations import LABEL_FIELDS, Annotation, annotations_for
from training.taxonomy import Taxonomy, default_taxonomy

logger = logging.getLogger(__name__)

LEVELS = {"topic": "nominal", "urgency": "ordinal", "lang": "nominal"}


def _finite(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def _kappa(a: list[str], b: list[str], labels: list[str], weights: str | None = None) -> float | None:
    with warnings.catch_warnings():
        # Undefined kappa (one shared label only) warns and returns nan; we report None instead.
        warnings.simplefilter("ignore")
        try:
            return _finite(cohen_kappa_score(a, b, labels=labels, weights=weights))
        except ValueError:
            return None


def _alpha(by_tweet: dict[str, dict[str, str]], coders: list[str], labels: list[str], level: str) -> float | None:
    units = [t for t, given in by_tweet.items() if len(given) >= 2]
    if not units:
        return None
    index = {label: i for i, label in enumerate(labels)}  # contract order, so ranks are right for ordinal
    data = np.full((len(coders), len(units)), np.nan)
    row = {c: i for i, c in enumerate(coders)}
    for j, tweet in enumerate(units):
        for coder, label in by_tweet[tweet].items():
            data[row[coder], j] = index[label]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a single label everywhere divides 0 by 0: alpha undefined
        try:
            value = krippendorff.alpha(
                reliability_data=data, value_domain=list(range(len(labels))), level_of_measurement=level
            )
        except ValueError:
            return None
    return _finite(value)


def field_agreement(annotations: list[Annotation], field: str, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """Agreement figures for one label field (see the module docstring)."""
    taxonomy = taxonomy or default_taxonomy()
    labels = taxonomy.labels_for(field)
    by_tweet: dict[str, dict[str, str]] = defaultdict(dict)
    for a in annotations:
        value = getattr(a, field)
        if value is not None:
            by_tweet[a.tweet_id][a.annotator] = value
    coders = sorted({c for given in by_tweet.values() for c in given})

    pairs = []
    for first, second in itertools.combinations(coders, 2):
        shared = sorted(t for t, given in by_tweet.items() if first in given and second in given)
        if not shared:
            continue
        a = [by_tweet[t][first] for t in shared]
        b = [by_tweet[t][second] for t in shared]
        pair: dict[str, Any] = {
            "annotators": [first, second],
            "n": len(shared),
            "agreement": round(sum(x == y for x, y in zip(a, b, strict=True)) / len(shared), 4),
            "kappa": _kappa(a, b, labels),
        }
        if LEVELS[field] == "ordinal":
            pair["kappa_linear"] = _kappa(a, b, labels, weights="linear")
        pairs.append(pair)

    confusion = {x: dict.fromkeys(labels, 0) for x in labels}
    for given in by_tweet.values():
        for first, second in itertools.combinations(sorted(given), 2):
            x, y = given[first], given[second]
            confusion[x][y] += 1
            if x != y:
                confusion[y][x] += 1
    per_class = {}
    for label in labels:
        agreed = confusion[label][label]
        other = sum(n for j, n in confusion[label].items() if j != label)
        judgements = agreed + other
        per_class[label] = {
            "judgements": judgements,
            "agreed": agreed,
            "specific_agreement": round(2 * agreed / (2 * agreed + other), 4) if judgements else None,
        }
    top = Counter()
    for i, x in enumerate(labels):
        for y in labels[i + 1 :]:
            if confusion[x][y]:
                top[(x, y)] = confusion[x][y]
    return {
        "level": LEVELS[field],
        "alpha": _alpha(by_tweet, coders, labels, LEVELS[field]),
        "units": sum(len(given) >= 2 for given in by_tweet.values()),
        "pairs": pairs,
        "per_class": per_class,
        "confusion": confusion,
        "top_confusions": [{"labels": list(k), "count": n} for k, n in top.most_common()],
    }


def agreement_report(conn: sqlite3.Connection, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """Agreement over the whole annotation store, per label field."""
    taxonomy = taxonomy or default_taxonomy()
    rows = annotations_for(conn)
    per_tweet = Counter(a.tweet_id for a in rows)
    report = {
        "annotators": sorted({a.annotator for a in rows}),
        "tweets": len(per_tweet),
        "annotations": len(rows),
        "multiply_annotated": sum(n >= 2 for n in per_tweet.values()),
        "fields": {field: field_agreement(rows, field, taxonomy) for field in LABEL_FIELDS},
    }
    logger.info(
        "agreement over %d annotations of %d tweets (%d labelled twice or more)",
        report["annotations"],
        report["tweets"],
        report["multiply_annotated"],
    )
    return report


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def render_markdown(report: dict[str, Any], top: int = 10) -> str:
    """The agreement report as Markdown: one section per field with pairs, classes and confusions."""
    lines = [
        "# Inter-annotator agreement",
        "",
        f"{report['annotations']} annotations of {report['tweets']} tweets by {len(report['annotators'])} "
        f"annotator(s); {report['multiply_annotated']} tweets labelled by two or more.",
    ]
    for field, figures in report["fields"].items():
        lines += [
            "",
            f"## {field}",
            "",
            f"Krippendorff's alpha ({figures['level']}): **{_fmt(figures['alpha'])}** "
            f"over {figures['units']} tweets with two or more labels.",
        ]
        if figures["pairs"]:
            ordinal = figures["level"] == "ordinal"
            header = ["annotator A", "annotator B", "shared tweets", "observed agreement", "Cohen's kappa"]
            rows = []
            for p in figures["pairs"]:
                row = [*p["annotators"], p["n"], _fmt(p["agreement"]), _fmt(p["kappa"])]
                rows.append([*row, _fmt(p["kappa_linear"])] if ordinal else row)
            lines += ["", *_table(header + (["linear-weighted kappa"] if ordinal else []), rows)]
        classes = [
            [label, c["judgements"], c["agreed"], _fmt(c["specific_agreement"])]
            for label, c in figures["per_class"].items()
            if c["judgements"]
        ]
        if classes:
            lines += ["", *_table(["label", "pairwise judgements", "agreed", "specific agreement"], classes)]
        if figures["top_confusions"]:
            confusions = [[*c["labels"], c["count"]] for c in figures["top_confusions"][:top]]
            lines += ["", "Most frequent disagreements:", "", *_table(["label", "label", "pairs"], confusions)]
    return "\n".join(lines) + "\n"
