"""The unlabelled pool: every ingested tweet once, in one SQLite file (WAL mode).

Rows are only ever added, never changed: a tweet id already in the pool is a duplicate,
and near-duplicates (character 5-gram Jaccard >= 0.6, :mod:`training.dedup`) join the
group of a tweet already there. Only one tweet per group is its *representative*, the one
annotators see, so a story retweeted or copy-pasted a hundred times is labelled once.

Public API (other modules code against exactly this): :func:`open_pool`, :func:`add_tweets`,
:func:`representatives`, :func:`get`, :func:`count`, :class:`RawTweet`, :class:`PoolTweet`,
:class:`IngestStats`.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from training.normalize import normalize
from training.regions import detect_region
from training.taxonomy import REPO_ROOT

if TYPE_CHECKING:
    from training.labelling.langid import LanguageIdentifier

logger = logging.getLogger(__name__)

DEFAULT_POOL_PATH = REPO_ROOT / "data" / "pool" / "pool.sqlite"
BUSY_TIMEOUT_S = 30.0
_BATCH = 500  # rows per SQL statement / progress step

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pool (
    tweet_id          TEXT PRIMARY KEY,
    text              TEXT NOT NULL,     -- the tweet as posted, for display
    norm_text         TEXT NOT NULL,     -- training.normalize.normalize(text)
    created_at        TEXT NULL,         -- ISO 8601 UTC (YYYY-MM-DDTHH:MM:SSZ)
    author            TEXT NULL,
    lang              TEXT NULL,         -- id | jv | campur
    region            TEXT NULL,         -- canonical name from training.regions, or NULL
    group_id          TEXT NOT NULL,     -- near-duplicate group = tweet_id of its representative
    is_representative INTEGER NOT NULL,
    source            TEXT NOT NULL,     -- the file it came from
    ingested_at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pool_representatives ON pool (is_representative, created_at, tweet_id);
CREATE INDEX IF NOT EXISTS pool_group ON pool (group_id);
"""


@dataclass(frozen=True)
class RawTweet:
    """A tweet as read from an export, before it enters the pool."""

    tweet_id: str
    text: str
    created_at: str | None = None  # any ISO 8601 / Twitter date form; stored as ISO UTC
    author: str | None = None
    source: str = "unknown"


@dataclass(frozen=True)
class PoolTweet:
    """One row of the pool (all columns)."""

    tweet_id: str
    text: str
    norm_text: str
    created_at: str | None
    author: str | None
    lang: str | None
    region: str | None
    group_id: str
    is_representative: bool
    source: str
    ingested_at: str


_COLUMNS = tuple(f.name for f in fields(PoolTweet))


@dataclass
class IngestStats:
    """What one :func:`add_tweets` call did.

    ``duplicate_ids`` counts tweets dropped because their id was already in the pool or earlier
    in the same batch; ``near_duplicates`` the new tweets that joined another tweet's group (not
    representative); ``near_duplicate_groups`` the groups that gained such a member.
    """

    received: int = 0
    new: int = 0
    duplicate_ids: int = 0
    near_duplicates: int = 0
    near_duplicate_groups: int = 0
    representatives: int = 0
    per_language: dict[str, int] = field(default_factory=dict)
    with_region: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def to_utc_iso(value: str | int | float | None) -> str | None:
    """A tweet time as ``YYYY-MM-DDTHH:MM:SSZ``; ``None`` when missing or unreadable.

    Accepts ISO 8601 (API v2: ``2024-01-05T10:00:00.000Z``), the v1.1 form
    (``Fri Jan 05 10:00:00 +0000 2024``) and epoch seconds or milliseconds. Times
    without a zone are taken as UTC, which is what every Twitter export uses.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    parsed: datetime | None = None
    raw = str(value).strip()
    if re.fullmatch(r"\d{9,13}(\.\d+)?", raw):
        seconds = float(raw)
        parsed = datetime.fromtimestamp(seconds / 1000 if seconds > 1e11 else seconds, UTC)
    else:
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            try:
                parsed = datetime.strptime(raw, "%a %b %d %H:%M:%S %z %Y")
            except ValueError:
                try:
                    parsed = parsedate_to_datetime(raw)
                except (TypeError, ValueError):
                    logger.warning("unreadable tweet time %r: stored as NULL", raw)
                    return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def open_pool(path: str | Path = DEFAULT_POOL_PATH) -> sqlite3.Connection:
    """Open (creating if needed) the pool database in WAL mode, with its schema."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
    conn.row_factory = sqlite3.Row
    # WAL: the labelling app reads the pool while an ingest writes to it.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(_SCHEMA)
    return conn


def _row_to_tweet(row: sqlite3.Row) -> PoolTweet:
    values = dict(zip(row.keys(), tuple(row), strict=True))
    values["is_representative"] = bool(values["is_representative"])
    return PoolTweet(**values)


def _existing_ids(conn: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(ids), _BATCH):
        chunk = list(ids[i : i + _BATCH])
        q = f"SELECT tweet_id FROM pool WHERE tweet_id IN ({','.join('?' * len(chunk))})"
        found.update(r[0] for r in conn.execute(q, chunk))
    return found


def _unique_new(conn: sqlite3.Connection, tweets: Sequence[RawTweet]) -> tuple[list[RawTweet], int]:
    """Tweets whose id is neither in the pool nor repeated in the batch, and the number dropped.

    Within a batch the longest text wins a repeated id: a retweet's copy of a tweet is often
    cut short with "…", the original is not.
    """
    by_id: dict[str, RawTweet] = {}
    for tweet in tweets:
        kept = by_id.get(tweet.tweet_id)
        if kept is None or len(tweet.text) > len(kept.text):
            by_id[tweet.tweet_id] = tweet
    in_pool = _existing_ids(conn, list(by_id))
    fresh = [t for t in by_id.values() if t.tweet_id not in in_pool]
    return fresh, len(tweets) - len(fresh)


def _time_key(created_at: str | None, tweet_id: str) -> tuple[int, str, str]:
    # Earliest first, unknown times last, then by id: the representative is the first posting.
    return (created_at is None, created_at or "", tweet_id)


def _assign_groups(
    conn: sqlite3.Connection, new_ids: list[str], new_norm: list[str], new_times: list[str | None]
) -> tuple[list[str], list[bool]]:
    """Group id and representative flag for each new tweet.

    Existing groups never change (their representative may already be labelled): a new tweet
    linked to existing representatives joins the earliest of them. New tweets linked only to
    each other form a new group whose earliest tweet is its representative.
    """
    # Imported here: scipy and scikit-learn take a second to load, and the CLI imports this module.
    from training.dedup import NEAR_DUPLICATE_JACCARD, near_duplicate_groups

    reps = conn.execute(
        "SELECT tweet_id, norm_text, created_at FROM pool WHERE is_representative = 1 "
        "ORDER BY created_at IS NULL, created_at, tweet_id"
    ).fetchall()
    n_old = len(reps)
    # One component search over old representatives and new tweets together, so a chain
    # new -> new -> old still lands in the old group.
    labels = near_duplicate_groups([r[1] for r in reps] + new_norm, NEAR_DUPLICATE_JACCARD, new_from=n_old)
    members: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(labels.tolist()):
        members[label].append(i)
    group_of: list[str] = [""] * len(new_ids)
    is_rep: list[bool] = [False] * len(new_ids)
    for idx in members.values():
        old = [i for i in idx if i < n_old]
        new = [i - n_old for i in idx if i >= n_old]
        if not new:
            continue
        if old:
            # reps are ordered by time already, so the first old member is the earliest.
            group = reps[min(old)][0]
        else:
            first = min(new, key=lambda j: _time_key(new_times[j], new_ids[j]))
            group = new_ids[first]
            is_rep[first] = True
        for j in new:
            group_of[j] = group
    return group_of, is_rep


def add_tweets(
    conn: sqlite3.Connection,
    tweets: Sequence[RawTweet],
    lang_identifier: LanguageIdentifier | None = None,
) -> IngestStats:
    """Add tweets to the pool; return what was done.

    Tweets whose id is already present (or repeated in the batch) are skipped; each new tweet
    gets its normalised text, language, region and near-duplicate group. ``lang_identifier``
    defaults to the classifier trained on the label store (trained and cached on first use).
    One transaction: an interrupted call adds nothing.
    """
    stats = IngestStats(received=len(tweets))
    fresh, _ = _unique_new(conn, tweets)
    computed: dict[str, tuple[str, str | None, str, str | None]] = {}
    if fresh:
        if lang_identifier is None:
            from training.labelling.langid import load_or_train

            lang_identifier = load_or_train()
        # Language, region and normalised text depend on the tweet alone: computed before the
        # write lock is taken, so a concurrent reader or writer waits only for the insert.
        texts = [t.text for t in fresh]
        norm = [normalize(t) for t in tqdm(texts, desc="normalising", unit="tweet", disable=len(texts) < 5000)]
        computed = {
            t.tweet_id: (n, to_utc_iso(t.created_at), lang, detect_region(t.text))
            for t, n, lang in zip(fresh, norm, lang_identifier.predict(texts), strict=True)
        }
    # BEGIN IMMEDIATE: ids and representatives are read and the rows written under one write
    # lock, so two ingests at once cannot both make a tweet of the same group representative.
    conn.execute("BEGIN IMMEDIATE")
    try:
        fresh, stats.duplicate_ids = _unique_new(conn, tweets)
        if not fresh:
            conn.rollback()
            logger.info("no new tweets (%d duplicate id(s))", stats.duplicate_ids)
            return stats
        ids = [t.tweet_id for t in fresh]
        norm, times, langs, regions = (list(col) for col in zip(*(computed[i] for i in ids), strict=True))
        group_of, is_rep = _assign_groups(conn, ids, norm, times)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = [
            (t.tweet_id, t.text, n, ts, t.author, lang, region, g, int(r), t.source, now)
            for t, n, ts, lang, region, g, r in zip(fresh, norm, times, langs, regions, group_of, is_rep, strict=True)
        ]
        insert = f"INSERT INTO pool ({','.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))})"
        for i in tqdm(range(0, len(rows), _BATCH), desc="adding to pool", unit="batch", disable=len(rows) < 5000):
            conn.executemany(insert, rows[i : i + _BATCH])
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    stats.new = len(rows)
    stats.representatives = sum(is_rep)
    stats.near_duplicates = stats.new - stats.representatives
    stats.near_duplicate_groups = len({g for g, r in zip(group_of, is_rep, strict=True) if not r})
    stats.per_language = dict(sorted(Counter(langs).items()))
    stats.with_region = sum(r is not None for r in regions)
    logger.info(
        "pool: %d new (%d representative), %d duplicate id(s), %d near-duplicate(s) in %d group(s)",
        stats.new,
        stats.representatives,
        stats.duplicate_ids,
        stats.near_duplicates,
        stats.near_duplicate_groups,
    )
    return stats


def representatives(conn: sqlite3.Connection, exclude_ids: Iterable[str] = frozenset()) -> list[PoolTweet]:
    """Group representatives (the tweets to label), earliest ``created_at`` first (unknown
    times last), then by ``tweet_id``; ``exclude_ids`` (e.g. already labelled) left out."""
    exclude = set(exclude_ids)
    rows = conn.execute(
        f"SELECT {','.join(_COLUMNS)} FROM pool WHERE is_representative = 1 "
        "ORDER BY created_at IS NULL, created_at, tweet_id"
    )
    return [_row_to_tweet(r) for r in rows if r["tweet_id"] not in exclude]


def get(conn: sqlite3.Connection, ids: Iterable[str]) -> list[PoolTweet]:
    """The pool rows for these ids, in the order given; ids not in the pool are skipped."""
    ids = list(dict.fromkeys(ids))
    found: dict[str, PoolTweet] = {}
    for i in range(0, len(ids), _BATCH):
        chunk = ids[i : i + _BATCH]
        q = f"SELECT {','.join(_COLUMNS)} FROM pool WHERE tweet_id IN ({','.join('?' * len(chunk))})"
        found.update((r["tweet_id"], _row_to_tweet(r)) for r in conn.execute(q, chunk))
    return [found[i] for i in ids if i in found]


def count(conn: sqlite3.Connection) -> dict[str, Any]:
    """Pool size: ``total``, ``representatives``, ``near_duplicates`` (rows grouped under another),
    ``with_region``, and ``by_lang`` / ``by_lang_representatives`` (key ``unknown``: no language)."""
    total, reps, with_region = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(is_representative), 0), COUNT(region) FROM pool"
    ).fetchone()
    by_lang = {
        lang or "unknown": n for lang, n in conn.execute("SELECT lang, COUNT(*) FROM pool GROUP BY lang ORDER BY lang")
    }
    by_lang_reps = {
        lang or "unknown": n
        for lang, n in conn.execute(
            "SELECT lang, COUNT(*) FROM pool WHERE is_representative = 1 GROUP BY lang ORDER BY lang"
        )
    }
    return {
        "total": total,
        "representatives": reps,
        "near_duplicates": total - reps,
        "with_region": with_region,
        "by_lang": by_lang,
        "by_lang_representatives": by_lang_reps,
    }
