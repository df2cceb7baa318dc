"""Choose which pool tweets to label next and write them, with suggestions, to a queue file.

Strategies (candidates are the pool's near-duplicate representatives not yet annotated):

* ``uncertainty``: the tweets the current models are least sure about. The per-model score is
  least confidence ``1 - p1``, margin ``1 - (p1 - p2)`` or normalised entropy ``H / log K``
  (all in [0, 1], higher = less sure), averaged over the models (topic and urgency champions);
* ``diverse``: the ``candidate_factor * n`` most uncertain, clustered into ``n`` groups with
  k-means on sentence embeddings, then the most uncertain tweet of each cluster, so one batch
  does not spend every label on a single confusing story;
* ``random``: a seeded uniform sample (an unbiased slice, e.g. for evaluation data);
* ``cold-start``: no model yet. Keyword rules from the taxonomy (``keywords:`` per topic)
  spread the batch over topics round-robin, plus tweets no rule matches.

Without models, ``uncertainty`` and ``diverse`` fall back to ``cold-start`` (logged, and each
item records the strategy that chose it). Every item carries suggestions for the annotator:
model predictions with confidences (when models exist), the keyword rules it hits, and the
pool's language guess; and its region.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from training.labelling.annotations import annotated_ids
from training.labelling.pool import PoolTweet, representatives
from training.labels import atomic_writer
from training.taxonomy import REPO_ROOT, Taxonomy, default_taxonomy

logger = logging.getLogger(__name__)

DEFAULT_QUEUE_PATH = REPO_ROOT / "data" / "labels" / "queue.jsonl"
STRATEGIES = ("uncertainty", "diverse", "random", "cold-start")
MEASURES = ("least_confidence", "margin", "entropy")
COLD_START = "cold-start"
TOP_SUGGESTIONS = 3
NO_RULE = "(no rule)"

Embed = Callable[[list[str]], np.ndarray]


class ProbaModel(Protocol):
    """What the queue needs from a model: ``TextClassifier`` satisfies it."""

    labels: list[str]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class QueueItem:
    """One tweet to label, with what might help the annotator."""

    tweet_id: str
    text: str
    region: str | None
    created_at: str | None
    source: str
    strategy: str
    rank: int
    score: float | None  # uncertainty (model strategies) or number of rule hits (cold-start)
    suggestions: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> QueueItem:
        """Read a queue line (unknown keys are ignored, so older/newer queues still load)."""
        if not raw.get("tweet_id") or not raw.get("text"):
            raise ValueError("a queue item needs tweet_id and text")
        known = {f: raw.get(f) for f in cls.__dataclass_fields__}
        known["suggestions"] = known["suggestions"] or {}
        known["source"] = known["source"] or "unknown"
        return cls(**known)


# -- scoring ----------------------------------------------------------------------------------


def uncertainty(proba: np.ndarray, measure: str = "least_confidence") -> np.ndarray:
    """Per-row uncertainty in [0, 1] (higher = less sure) of class probabilities ``(n, K)``."""
    if measure not in MEASURES:
        raise ValueError(f"measure: unknown {measure!r}; expected one of {', '.join(MEASURES)}")
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or proba.shape[1] < 2:
        raise ValueError(f"expected probabilities of shape (n, K>=2), got {proba.shape}")
    if measure == "least_confidence":
        return 1.0 - proba.max(axis=1)
    if measure == "margin":
        top2 = np.sort(proba, axis=1)[:, -2:]
        return 1.0 - (top2[:, 1] - top2[:, 0])
    clipped = np.clip(proba, 1e-12, 1.0)
    return -(clipped * np.log(clipped)).sum(axis=1) / np.log(proba.shape[1])


def _classifier(model: Any) -> ProbaModel:
    # training.predict.LoadedModel wraps the classifier; a bare TextClassifier (or a fake) is used as is.
    return getattr(model, "classifier", model)


def _predict(models: Mapping[str, Any], texts: list[str]) -> dict[str, np.ndarray]:
    return {task: _classifier(m).predict_proba(texts) for task, m in models.items()}


def _model_versions(models: Mapping[str, Any]) -> dict[str, str]:
    return {task: str(getattr(m, "version", None) or type(_classifier(m)).__name__) for task, m in models.items()}


def _keyword_patterns(taxonomy: Taxonomy) -> dict[str, re.Pattern[str]]:
    patterns = {}
    for topic in taxonomy.topics:
        words = sorted({k.lower() for k in topic.keywords}, key=len, reverse=True)  # longest phrase wins
        if words:
            patterns[topic.id] = re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)")
    return patterns


def rule_hits(norm_text: str, taxonomy: Taxonomy | None = None) -> dict[str, list[str]]:
    """Keywords of each topic found in a normalised (lower-cased) text: ``{topic: [keyword, ...]}``."""
    return _rule_hits(norm_text.lower(), _keyword_patterns(taxonomy or default_taxonomy()))


def _rule_hits(text: str, patterns: Mapping[str, re.Pattern[str]]) -> dict[str, list[str]]:
    hits = {}
    for topic, pattern in patterns.items():
        found = list(dict.fromkeys(pattern.findall(text)))
        if found:
            hits[topic] = found
    return hits


# -- selection --------------------------------------------------------------------------------


def _select_uncertain(scores: np.ndarray, n: int) -> list[int]:
    return [int(i) for i in np.argsort(-scores, kind="stable")[:n]]


def _select_diverse(texts: list[str], scores: np.ndarray, n: int, embed: Embed, factor: int, seed: int) -> list[int]:
    from sklearn.cluster import KMeans

    shortlist = _select_uncertain(scores, max(n, factor * n))
    if len(shortlist) <= n:
        return shortlist
    vectors = np.asarray(embed([texts[i] for i in shortlist]), dtype=float)
    if vectors.shape[0] != len(shortlist):
        raise ValueError(f"embed returned {vectors.shape[0]} vectors for {len(shortlist)} texts")
    clusters = KMeans(n_clusters=n, n_init=4, random_state=seed).fit_predict(vectors)
    best: dict[int, int] = {}
    for pos, cluster in enumerate(clusters.tolist()):  # shortlist is most-uncertain first: first seen wins
        best.setdefault(cluster, shortlist[pos])
    chosen = list(best.values())
    # Identical embeddings can leave fewer clusters than asked; top up with the next most uncertain.
    taken = set(chosen)
    chosen += [i for i in shortlist if i not in taken][: n - len(chosen)]
    return sorted(chosen, key=lambda i: (-scores[i], shortlist.index(i)))


def _select_cold_start(hits: list[dict[str, list[str]]], n: int, taxonomy: Taxonomy, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    tiebreak = rng.random(len(hits))
    buckets: dict[str, list[int]] = defaultdict(list)
    for i, found in enumerate(hits):
        if found:
            # The topic with most distinct keyword hits; ties go to the earlier topic in the taxonomy.
            best = max(found, key=lambda t: (len(found[t]), -taxonomy.topic_ids.index(t)))
            buckets[best].append(i)
        else:
            buckets[NO_RULE].append(i)
    order = [t for t in [*taxonomy.topic_ids, NO_RULE] if buckets.get(t)]
    for topic in order:
        buckets[topic].sort(key=lambda i: (-sum(len(v) for v in hits[i].values()), tiebreak[i]))
    chosen: list[int] = []
    depth = 0
    while len(chosen) < n and any(depth < len(buckets[t]) for t in order):
        for topic in order:
            if depth < len(buckets[topic]) and len(chosen) < n:
                chosen.append(buckets[topic][depth])
        depth += 1
    return chosen


def _default_embed() -> Embed:
    from training.config import DEFAULT_ENCODER, EncoderSettings
    from training.models.embedder import Embedder

    embedder = Embedder(DEFAULT_ENCODER, prefix=EncoderSettings().prefix)
    return lambda texts: embedder.encode(texts)


def _suggestions(
    proba: dict[str, np.ndarray], models: Mapping[str, Any], row: int, hits: dict[str, list[str]], lang: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"rule_hits": hits, "lang": lang}
    if proba:
        predictions = {}
        for task, p in proba.items():
            labels = _classifier(models[task]).labels
            top = np.argsort(-p[row], kind="stable")[:TOP_SUGGESTIONS]
            predictions[task] = [{"label": labels[j], "confidence": round(float(p[row, j]), 4)} for j in top]
        out["predictions"] = predictions
        out["model_version"] = _model_versions(models)
    return out


def build_queue(
    pool_conn: sqlite3.Connection,
    n: int,
    strategy: str = "uncertainty",
    models: Mapping[str, Any] | None = None,
    annotations_conn: sqlite3.Connection | None = None,
    *,
    measure: str = "least_confidence",
    embed: Embed | None = None,
    seed: int = 13,
    exclude_ids: Iterable[str] = (),
    candidate_factor: int = 10,
    max_candidates: int | None = None,
    taxonomy: Taxonomy | None = None,
) -> list[QueueItem]:
    """Pick ``n`` pool representatives to label next, with suggestions.

    ``models`` maps a task (``topic``, ``urgency``) to an object with ``predict_proba(texts)``
    and ``labels`` (a ``TextClassifier`` or ``training.predict.LoadedModel``). Tweets already
    annotated (by anyone, in ``annotations_conn``) or in ``exclude_ids`` (e.g. the gold store)
    are skipped. ``embed`` turns texts into vectors for ``diverse`` (default: the bundled
    multilingual-e5-small). ``max_candidates`` samples the pool first (seeded) when it is big.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy: unknown {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    if measure not in MEASURES:
        raise ValueError(f"measure: unknown {measure!r}; expected one of {', '.join(MEASURES)}")
    if n < 1:
        raise ValueError(f"n: must be at least 1, got {n}")
    taxonomy = taxonomy or default_taxonomy()
    models = dict(models or {})
    if strategy in ("uncertainty", "diverse") and not models:
        logger.warning("strategy %r needs models and none were given: using cold-start keyword rules", strategy)
        strategy = COLD_START

    excluded = set(exclude_ids)
    if annotations_conn is not None:
        excluded |= annotated_ids(annotations_conn)
    candidates: list[PoolTweet] = representatives(pool_conn, excluded)
    rng = np.random.default_rng(seed)
    if max_candidates is not None and len(candidates) > max_candidates:
        keep = np.sort(rng.choice(len(candidates), size=max_candidates, replace=False))
        candidates = [candidates[i] for i in keep]
    if not candidates:
        logger.warning("no unlabelled representatives left in the pool")
        return []
    texts = [c.text for c in candidates]
    norm = [c.norm_text for c in candidates]
    patterns = _keyword_patterns(taxonomy)

    scores: np.ndarray | None = None
    proba: dict[str, np.ndarray] = {}
    if strategy in ("uncertainty", "diverse"):
        proba = _predict(models, texts)
        scores = np.mean([uncertainty(p, measure) for p in proba.values()], axis=0)
        if strategy == "uncertainty":
            chosen = _select_uncertain(scores, n)
        else:
            chosen = _select_diverse(norm, scores, n, embed or _default_embed(), candidate_factor, seed)
    elif strategy == "random":
        chosen = [int(i) for i in rng.choice(len(candidates), size=min(n, len(candidates)), replace=False)]
    else:
        all_hits = [_rule_hits(t.lower(), patterns) for t in norm]
        chosen = _select_cold_start(all_hits, n, taxonomy, seed)

    if models and not proba:  # random / cold-start with models: predictions as suggestions only
        picked = _predict(models, [texts[i] for i in chosen])
        proba = {task: np.zeros((len(candidates), p.shape[1])) for task, p in picked.items()}
        for task, p in picked.items():
            proba[task][chosen] = p

    items = []
    for rank, i in enumerate(chosen, start=1):
        c = candidates[i]
        hits = _rule_hits(norm[i].lower(), patterns)
        if scores is not None:
            score: float | None = round(float(scores[i]), 4)
        elif strategy == COLD_START:
            score = float(sum(len(v) for v in hits.values()))
        else:
            score = None
        items.append(
            QueueItem(
                tweet_id=c.tweet_id,
                text=c.text,
                region=c.region,
                created_at=c.created_at,
                source=c.source,
                strategy=f"{strategy}:{measure}" if scores is not None else strategy,
                rank=rank,
                score=score,
                suggestions=_suggestions(proba, models, i, hits, c.lang),
            )
        )
    logger.info("queued %d of %d candidates with %s", len(items), len(candidates), strategy)
    return items


def write_queue(path: str | Path, items: Sequence[QueueItem]) -> Path:
    """Write the queue atomically, one JSON object per line."""
    with atomic_writer(path) as fh:
        for item in items:
            fh.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
    logger.info("wrote %d queued tweets to %s", len(items), path)
    return Path(path)


def read_queue(path: str | Path) -> list[QueueItem]:
    """Read a queue file written by :func:`write_queue`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no queue file (make one with `kemala label queue`)")
    items = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(QueueItem.from_dict(json.loads(line)))
        except (json.JSONDecodeError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{path}:{lineno}: not a queue item: {exc}") from exc
    return items
