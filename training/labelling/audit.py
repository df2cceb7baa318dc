"""Find likely label errors in the gold set with cleanlab; a review list, never a relabelling.

For each audited field (topic and urgency by default) every gold row gets an out-of-fold class
probability from a TF-IDF (word and character n-grams) + logistic-regression pipeline trained by
``cross_val_predict`` on the other folds, so no row is scored by a model that saw its label.
``cleanlab.filter.find_label_issues`` then picks the rows whose given label disagrees with what
the rest of the corpus implies, ranked by self-confidence (the probability of the given label).

The result is a table (and a CSV) for a human to check against the guidelines; this module
opens label files for reading only.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from training.config import DEFAULT_LABEL_STORE
from training.labels import LabelRow, atomic_writer, load_labels
from training.normalize import NormalizerConfig, normalize_many
from training.taxonomy import REPO_ROOT, Taxonomy, default_taxonomy

# cleanlab, scikit-learn and pandas take seconds to import; they load when an audit runs, so the
# CLI that mounts this module (and its --help) stays fast.
if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

logger = logging.getLogger(__name__)

DEFAULT_AUDIT_CSV = REPO_ROOT / "reports" / "label-audit.csv"
AUDIT_FIELDS = ("topic", "urgency")
AUDIT_COLUMNS = [
    "field",
    "rank",
    "id",
    "given",
    "suggested",
    "given_prob",
    "suggested_prob",
    "text",
    "annotator",
    "source",
]


def audit_pipeline(seed: int = 13) -> Pipeline:
    """TF-IDF word 1-2-grams and character 2-5-grams into a class-weighted logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\b\w+\b")),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, max_features=200_000)),
        ]
    )
    clf = LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000, random_state=seed)
    return Pipeline([("features", features), ("clf", clf)])


def out_of_fold_proba(
    texts: Sequence[str], labels: Sequence[str], folds: int = 5, seed: int = 13
) -> tuple[np.ndarray, list[str]]:
    """Out-of-fold class probabilities for normalised texts; columns follow the returned class list."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"need at least two classes to audit, got {classes}")
    y = np.array([classes.index(label) for label in labels])
    n_splits = max(2, min(folds, int(np.bincount(y).max())))
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # Rare classes (fewer rows than folds) warn in every fold; their rows still get scored.
        warnings.simplefilter("ignore", UserWarning)
        proba = cross_val_predict(audit_pipeline(seed), list(texts), y, cv=cv, method="predict_proba")
    return proba, classes


def audit_field(rows: Sequence[LabelRow], field: str, folds: int = 5, seed: int = 13) -> pd.DataFrame:
    """Likely label errors in one field, most suspicious first."""
    import pandas as pd
    from cleanlab.filter import find_label_issues

    texts = normalize_many([r.text for r in rows], NormalizerConfig())
    given = [getattr(r, field) for r in rows]
    proba, classes = out_of_fold_proba(texts, given, folds, seed)
    y = np.array([classes.index(label) for label in given])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab warns about tiny classes; the ranking is still usable
        issues = find_label_issues(labels=y, pred_probs=proba, return_indices_ranked_by="self_confidence")
    records = []
    for rank, i in enumerate(issues, start=1):
        row, best = rows[i], int(proba[i].argmax())
        records.append(
            {
                "field": field,
                "rank": rank,
                "id": row.id,
                "given": given[i],
                "suggested": classes[best],
                "given_prob": round(float(proba[i, y[i]]), 4),
                "suggested_prob": round(float(proba[i, best]), 4),
                "text": row.text,
                "annotator": row.annotator,
                "source": row.source,
            }
        )
    logger.info("%s: %d likely label issue(s) in %d rows", field, len(records), len(rows))
    return pd.DataFrame.from_records(records, columns=AUDIT_COLUMNS)


def audit(
    store: str | Path = DEFAULT_LABEL_STORE,
    fields: Sequence[str] = AUDIT_FIELDS,
    output: str | Path | None = DEFAULT_AUDIT_CSV,
    folds: int = 5,
    seed: int = 13,
    taxonomy: Taxonomy | None = None,
) -> pd.DataFrame:
    """Audit the gold set of a label store; write the review list CSV (when ``output``) and return it.

    Labels are never changed: fixing a row is a human decision made in the label files.
    """
    taxonomy = taxonomy or default_taxonomy()
    for field in fields:
        taxonomy.labels_for(field)  # KeyError naming an unknown field before any work
    import pandas as pd

    rows = load_labels(store, taxonomy)
    frame = pd.concat([audit_field(rows, field, folds, seed) for field in fields], ignore_index=True)
    if output is not None:
        with atomic_writer(output) as fh:
            frame.to_csv(fh, index=False)
        logger.info("wrote %d rows to review to %s", len(frame), output)
    return frame
