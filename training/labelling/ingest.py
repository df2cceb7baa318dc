"""Read raw tweet exports into the unlabelled pool.

Two kinds of input:

* **Twitter/X API v2 search responses** (``--format twitter``): JSON with ``data`` (tweets:
  ``id``, ``text``, ``created_at``, ``author_id``, ``lang``, ``referenced_tweets``),
  ``includes.users`` (``id``, ``username``), ``includes.tweets`` (the referenced originals)
  and ``meta``. One file, a folder of page files, a JSON list of pages, or one page per line.
* **CSV and JSON Lines exports** (``--format csv|jsonl``) with configurable id, text, time and
  author columns.

Raw files are only ever opened for reading (``--copy-raw`` keeps a byte-identical copy under
``data/raw/``). Retweets become their original tweet: ``referenced_tweets`` of type
``retweeted`` point at the original in ``includes.tweets``; a bare ``RT @user: ...`` text is
matched to the original by author and text when the batch or the pool holds it, otherwise its
text is kept without the prefix. Exact duplicate ids, near-duplicate groups, language and region
are the pool's job (:func:`training.labelling.pool.add_tweets`), so re-running an ingest on the
same files adds nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from training.labelling.pool import DEFAULT_POOL_PATH, IngestStats, RawTweet, add_tweets, count, open_pool
from training.normalize import normalize
from training.taxonomy import REPO_ROOT

if TYPE_CHECKING:
    from training.labelling.langid import LanguageIdentifier

logger = logging.getLogger(__name__)

DEFAULT_RAW_DIR = REPO_ROOT / "data" / "raw"
INPUT_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv")
_RT_PREFIX = re.compile(r"^\s*RT @(\w+):\s*", re.DOTALL)
_TRUNCATION = re.compile(r"(?:…|\.\.\.)\s*$")
# Usual column names of tweet exports, tried in order when a column is not named.
COLUMN_CANDIDATES: dict[str, tuple[str, ...]] = {
    "id": ("id", "tweet_id", "id_str"),
    "text": ("text", "full_text", "tweet", "content"),
    "time": ("created_at", "date", "timestamp", "time"),
    "author": ("author", "username", "screen_name", "user", "author_id"),
}


class InputFormat(StrEnum):
    """How to read an input file; ``auto`` decides from the suffix and content."""

    auto = "auto"
    twitter = "twitter"
    csv = "csv"
    jsonl = "jsonl"


@dataclass(frozen=True)
class Columns:
    """Column names of a CSV/JSONL export. ``None`` means: the first of the usual names present."""

    id: str | None = None
    text: str | None = None
    time: str | None = None
    author: str | None = None

    def resolve(self, available: Sequence[str], where: str) -> dict[str, str | None]:
        """Map each role to a column present in ``available``; id and text are required."""
        out: dict[str, str | None] = {}
        for role in ("id", "text", "time", "author"):
            chosen = getattr(self, role)
            if chosen is not None:
                if chosen not in available:
                    raise ValueError(f"{where}: no {role} column {chosen!r}; columns are {list(available)}")
                out[role] = chosen
                continue
            out[role] = next((c for c in COLUMN_CANDIDATES[role] if c in available), None)
            if out[role] is None and role in ("id", "text"):
                raise ValueError(
                    f"{where}: no {role} column (looked for {list(COLUMN_CANDIDATES[role])}); columns are "
                    f"{list(available)}; name it with --{role}-col"
                )
        return out


@dataclass
class ReadResult:
    """Tweets read from input files, before they meet the pool."""

    tweets: list[RawTweet] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    read: int = 0  # tweet records in the files (API ``data`` entries, table rows)
    skipped: int = 0  # records without an id or text, or unreadable lines
    retweets_resolved: int = 0

    def extend(self, other: ReadResult) -> None:
        self.tweets.extend(other.tweets)
        self.files.extend(other.files)
        self.read += other.read
        self.skipped += other.skipped
        self.retweets_resolved += other.retweets_resolved


@dataclass
class IngestReport:
    """Counts of one ingest run: what was read, resolved and added, and the pool afterwards."""

    files: list[str]
    read: int
    skipped: int
    retweets_resolved: int
    pool_stats: IngestStats
    pool: dict[str, Any]
    copied: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready counts (``new``, ``duplicate_ids``, ``per_language``, ... at the top level)."""
        stats = asdict(self.pool_stats)
        stats.pop("received")
        return {
            "files": len(self.files),
            "read": self.read,
            "skipped": self.skipped,
            "retweets_resolved": self.retweets_resolved,
            **stats,
            "pool": self.pool,
            "copied": self.copied,
        }


# -- Twitter/X API v2 --------------------------------------------------------------------------


def _tweet_text(tweet: dict[str, Any]) -> str:
    # Long posts carry their full text in note_tweet; "text" is then cut at 280 characters.
    note = tweet.get("note_tweet")
    if isinstance(note, dict) and note.get("text"):
        return str(note["text"])
    return str(tweet.get("text") or "")


def parse_api_page(page: dict[str, Any], source: str) -> ReadResult:
    """The tweets of one API v2 response page, retweets replaced by their originals."""
    result = ReadResult()
    data = page.get("data") or []
    if isinstance(data, dict):  # a single-tweet lookup response
        data = [data]
    includes = page.get("includes") or {}
    users = {str(u["id"]): u.get("username") for u in includes.get("users") or [] if "id" in u}
    originals = {str(t["id"]): t for t in includes.get("tweets") or [] if "id" in t}
    if page.get("errors"):
        logger.debug("%s: %d API error object(s) (e.g. deleted referenced tweets)", source, len(page["errors"]))
    for tweet in data:
        result.read += 1
        if "id" not in tweet or not _tweet_text(tweet).strip():
            result.skipped += 1
            continue
        retweeted = next((r for r in tweet.get("referenced_tweets") or [] if r.get("type") == "retweeted"), None)
        if retweeted is None:
            author = users.get(str(tweet.get("author_id")), tweet.get("author_id"))
            result.tweets.append(
                RawTweet(str(tweet["id"]), _tweet_text(tweet), tweet.get("created_at"), _str(author), source)
            )
            continue
        result.retweets_resolved += 1
        original_id = str(retweeted["id"])
        prefix = _RT_PREFIX.match(_tweet_text(tweet))
        original = originals.get(original_id)
        if original is not None:
            author = users.get(str(original.get("author_id"))) or (prefix.group(1) if prefix else None)
            result.tweets.append(
                RawTweet(original_id, _tweet_text(original), original.get("created_at"), _str(author), source)
            )
        else:
            # The original is not in includes (deleted, or not expanded): keep the retweet's copy of
            # its text under the original's id, so the real original later replaces nothing twice.
            text = _RT_PREFIX.sub("", _tweet_text(tweet))
            result.tweets.append(RawTweet(original_id, text, None, prefix.group(1) if prefix else None, source))
    return result


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _api_pages(path: Path) -> Iterator[dict[str, Any]]:
    """Response pages in one file: a page, a JSON list of pages, or one page per line."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: not an API response page: {exc.msg}") from exc
        return
    if isinstance(obj, list):
        yield from obj
    elif isinstance(obj, dict):
        yield obj
    else:
        raise ValueError(f"{path}: expected an API v2 response object, got {type(obj).__name__}")


def read_twitter_v2(path: str | Path, source: str | None = None) -> ReadResult:
    """Read API v2 search responses from one file or every page file in a folder."""
    result = ReadResult()
    for file in _input_files(Path(path)):
        src = source or str(file)
        pages = 0
        for page in _api_pages(file):
            if not isinstance(page, dict):
                raise ValueError(f"{file}: expected API response objects, got {type(page).__name__}")
            result.extend(parse_api_page(page, src))
            pages += 1
        result.files.append(str(file))
        logger.info("%s: %d page(s)", file, pages)
    return result


# -- CSV / JSON Lines exports ------------------------------------------------------------------


def _table_records(path: Path, fmt: InputFormat) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """``(line, record)`` pairs; ``record`` is None for an unreadable line (skipped, not fatal)."""
    if fmt is InputFormat.csv:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for lineno, record in enumerate(csv.DictReader(fh), start=2):
                yield lineno, record
        return
    with path.open(encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                logger.warning("%s:%d: bad JSON (%s): line skipped", path, lineno, exc.msg)
                yield lineno, None
                continue
            yield lineno, obj if isinstance(obj, dict) else None


def read_table_export(
    path: str | Path, fmt: InputFormat | str, columns: Columns | None = None, source: str | None = None
) -> ReadResult:
    """Read a CSV or JSONL export (one file, or each matching file in a folder)."""
    fmt = InputFormat(fmt)
    columns = columns or Columns()
    result = ReadResult()
    for file in _input_files(Path(path)):
        src = source or str(file)
        cols: dict[str, str | None] | None = None
        for lineno, record in _table_records(file, fmt):
            if record is None:
                result.read += 1
                result.skipped += 1
                continue
            if cols is None:
                cols = columns.resolve(list(record), str(file))
                for role in ("time", "author"):
                    if cols[role] is None:
                        logger.warning("%s: no %s column; stored as NULL", file, role)
            result.read += 1
            tweet_id, text = _str(record.get(cols["id"])), _str(record.get(cols["text"]))
            if tweet_id is None or text is None or not text.strip():
                logger.warning("%s:%d: no id or text: row skipped", file, lineno)
                result.skipped += 1
                continue
            time = _str(record.get(cols["time"])) if cols["time"] else None
            author = _str(record.get(cols["author"])) if cols["author"] else None
            result.tweets.append(RawTweet(tweet_id, text, time, author, src))
        result.files.append(str(file))
    return result


# -- format detection, raw copies, retweet prefixes ----------------------------------------------


def _input_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES and not any(s.startswith(".") for s in p.parts)
    )
    if not files:
        raise FileNotFoundError(f"{path}: no input files ({', '.join(INPUT_SUFFIXES)})")
    return files


def detect_format(path: Path) -> InputFormat:
    """``twitter`` for API v2 responses, else ``csv`` or ``jsonl`` by suffix."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return InputFormat.csv
    if suffix not in (".json", ".jsonl", ".ndjson"):
        raise ValueError(f"{path}: unknown input type {suffix!r}; give --format")
    if suffix == ".json":
        # A JSON list of plain tweet records is an export; anything else is an API response.
        try:
            obj = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, list) and obj and isinstance(obj[0], dict) and not {"data", "meta"} & set(obj[0]):
            raise ValueError(f"{path}: a JSON list of records; save it as JSON Lines or give --format twitter")
        return InputFormat.twitter
    with path.open(encoding="utf-8-sig") as fh:
        first = next((line for line in fh if line.strip()), "")
    try:
        obj = json.loads(first)
    except json.JSONDecodeError:
        return InputFormat.jsonl
    return InputFormat.twitter if isinstance(obj, dict) and {"data", "meta"} & set(obj) else InputFormat.jsonl


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def copy_raw_file(path: Path, raw_dir: Path, relative: Path | None = None) -> Path:
    """Copy one file into ``raw_dir`` byte for byte; an identical copy already there is reused.

    A different file with the same name gets its content hash in the name, so nothing is overwritten.
    """
    digest = _sha256(path)
    target = raw_dir / (relative or Path(path.name))
    if target.exists():
        if _sha256(target) == digest:
            return target
        target = target.with_name(f"{target.stem}.{digest[:12]}{target.suffix}")
        if target.exists() and _sha256(target) == digest:
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    if _sha256(target) != digest:
        target.unlink(missing_ok=True)
        raise OSError(f"{target}: copy of {path} differs from the original")
    return target


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _author_key(author: str | None) -> str:
    return (author or "").lstrip("@").lower()


def _same_text(retweet_body: str, original: str) -> bool:
    """Whether a retweet's body is the original's text (possibly cut short with "…")."""
    body = normalize(_TRUNCATION.sub("", retweet_body))
    full = normalize(original)
    return bool(body) and (full == body or (full.startswith(body) and _TRUNCATION.search(retweet_body) is not None))


def resolve_retweet_prefixes(
    tweets: Sequence[RawTweet], conn: sqlite3.Connection | None = None
) -> tuple[list[RawTweet], int]:
    """Turn every ``RT @user: text`` into the original tweet; return the tweets and how many were RTs.

    The original is looked up by author and text among the batch's other tweets, then in the
    pool; found, the retweet becomes a copy of it (same id, dropped later as a duplicate id).
    Not found, the retweet keeps its own id, with the text stripped of the prefix and the
    original author as its author.
    """
    by_author: dict[str, list[RawTweet]] = {}
    for tweet in tweets:
        if not _RT_PREFIX.match(tweet.text):
            by_author.setdefault(_author_key(tweet.author), []).append(tweet)
    out: list[RawTweet] = []
    resolved = 0
    for tweet in tweets:
        prefix = _RT_PREFIX.match(tweet.text)
        if prefix is None:
            out.append(tweet)
            continue
        resolved += 1
        user, body = prefix.group(1), tweet.text[prefix.end() :]
        match = next((t for t in by_author.get(user.lower(), []) if _same_text(body, t.text)), None)
        if match is None and conn is not None:
            rows = conn.execute(
                "SELECT tweet_id, text, created_at, author FROM pool WHERE lower(ltrim(author, '@')) = ?",
                (user.lower(),),
            ).fetchall()
            found = next((r for r in rows if _same_text(body, r[1])), None)
            if found is not None:
                match = RawTweet(found[0], found[1], found[2], found[3], tweet.source)
        if match is not None:
            out.append(RawTweet(match.tweet_id, match.text, match.created_at, match.author, tweet.source))
        else:
            out.append(RawTweet(tweet.tweet_id, body, tweet.created_at, user, tweet.source))
    return out, resolved


def read_inputs(
    paths: Sequence[str | Path], fmt: InputFormat | str = InputFormat.auto, columns: Columns | None = None
) -> ReadResult:
    """Read every input file (folders are walked), each in its given or detected format."""
    fmt = InputFormat(fmt)
    result = ReadResult()
    files = [f for p in paths for f in _input_files(Path(p))]
    for file in tqdm(files, desc="reading", unit="file", disable=len(files) < 20):
        kind = detect_format(file) if fmt is InputFormat.auto else fmt
        if kind is InputFormat.twitter:
            result.extend(read_twitter_v2(file))
        else:
            result.extend(read_table_export(file, kind, columns))
    return result


def ingest(
    paths: Sequence[str | Path],
    pool: str | Path = DEFAULT_POOL_PATH,
    fmt: InputFormat | str = InputFormat.auto,
    columns: Columns | None = None,
    copy_raw: bool = False,
    raw_dir: str | Path = DEFAULT_RAW_DIR,
    lang_identifier: LanguageIdentifier | None = None,
) -> IngestReport:
    """Read exports, resolve retweets and add the tweets to the pool; return the counts.

    With ``copy_raw`` each input file is first copied unchanged under ``raw_dir`` (a folder keeps
    its layout) and the pool records the copy as the tweets' source.
    """
    copied: list[str] = []
    sources: dict[str, str] = {}
    if copy_raw:
        for p in map(Path, paths):
            for file in _input_files(p):
                relative = Path(p.name) / file.relative_to(p) if p.is_dir() else None
                target = copy_raw_file(file, Path(raw_dir), relative)
                copied.append(_display(target))
                sources[str(file)] = _display(target)
    read = read_inputs(paths, fmt, columns)
    if sources:
        read.tweets = [
            RawTweet(t.tweet_id, t.text, t.created_at, t.author, sources.get(t.source, t.source)) for t in read.tweets
        ]
    conn = open_pool(pool)
    try:
        tweets, rt_prefixed = resolve_retweet_prefixes(read.tweets, conn)
        stats = add_tweets(conn, tweets, lang_identifier)
        totals = count(conn)
    finally:
        conn.close()
    report = IngestReport(
        files=read.files,
        read=read.read,
        skipped=read.skipped,
        retweets_resolved=read.retweets_resolved + rt_prefixed,
        pool_stats=stats,
        pool=totals,
        copied=copied,
    )
    logger.info("ingest: %s", json.dumps({k: v for k, v in report.to_dict().items() if k != "copied"}))
    return report
