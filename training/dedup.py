"""Near-duplicate detection by character 5-gram Jaccard similarity.

Used to keep near-copies in one split, to enforce corpus diversity, and to group
near-duplicates at ingest. Pairs are found with one sparse matrix product, which
is exact (no MinHash approximation) and fast for tens of thousands of texts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import CountVectorizer

NGRAM = 5
NEAR_DUPLICATE_JACCARD = 0.6
_SPACE = re.compile(r"\s+")


def shingle_text(text: str) -> str:
    """The form compared for near-duplicates: lower-cased, whitespace collapsed."""
    return _SPACE.sub(" ", text.lower()).strip()


def _shingle_matrix(texts: Sequence[str]) -> csr_matrix:
    vectorizer = CountVectorizer(
        analyzer="char", ngram_range=(NGRAM, NGRAM), lowercase=False, binary=True, dtype=np.int32
    )
    # Texts shorter than 5 characters still get one shingle (the whole text), padded.
    padded = [t if len(t) >= NGRAM else t.ljust(NGRAM, "\x01") for t in map(shingle_text, texts)]
    return vectorizer.fit_transform(padded).tocsr()


def similar_pairs(
    texts: Sequence[str], threshold: float = NEAR_DUPLICATE_JACCARD, new_from: int = 0
) -> list[tuple[int, int, float]]:
    """All pairs ``(i, j, jaccard)`` with ``i < j`` and 5-gram Jaccard ``>= threshold``.

    With ``new_from=k``, only pairs involving at least one text at index ``>= k`` are computed:
    a growing pool compares new tweets with everything, never the old ones with each other again.
    """
    if len(texts) < 2 or new_from >= len(texts):
        return []
    x = _shingle_matrix(texts)
    sizes = np.asarray(x.sum(axis=1)).ravel()
    prod = (x[new_from:] @ x.T).tocoo()
    rows, cols = prod.row + new_from, prod.col
    once = cols < rows  # each unordered pair once (new-old pairs always have col < row)
    rows, cols, inter = rows[once], cols[once], prod.data[once]
    jaccard = inter / np.maximum(sizes[rows] + sizes[cols] - inter, 1)
    keep = jaccard >= threshold
    return [(int(i), int(j), float(v)) for i, j, v in zip(cols[keep], rows[keep], jaccard[keep], strict=True)]


def near_duplicate_groups(
    texts: Sequence[str], threshold: float = NEAR_DUPLICATE_JACCARD, new_from: int = 0
) -> np.ndarray:
    """A group id per text; texts linked by a chain of near-duplicate pairs share one.

    ``new_from`` as in :func:`similar_pairs` (texts before it are not linked to each other directly).
    """
    n = len(texts)
    pairs = similar_pairs(texts, threshold, new_from)
    if not pairs:
        return np.arange(n)
    rows = [p[0] for p in pairs]
    cols = [p[1] for p in pairs]
    graph = csr_matrix((np.ones(len(pairs)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels
