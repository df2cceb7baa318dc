"""TEST FIXTURE (synthetic, seeded): an event log of routed tweets, agency replies and reviewer corrections.

``seed_event_log`` writes a few hundred random routings over about three months through the public
write paths (``PredictionLog.append``, ``record_reply``, ``upsert_correction``) and returns the same
events as pandas frames, so tests can compute every expected figure directly, independently of SQL.

Deliberate edge cases: re-routed tweet ids (the first routing must win), routings without an id,
tweets without ``created_at``, a tweet at 2026-10-31T18:00Z (November in WIB), replies exactly at
their target, several replies to one tweet, corrections that move tweets into and out of ``lainnya``,
and an older correction arriving after a newer one (it must not win).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from serving.analytics.store import record_reply, tweet_facts, upsert_correction
from serving.store import PredictionLog, log_row
from training.regions import CANONICAL_REGIONS
from training.taxonomy import CONTRACT_LANGS, CONTRACT_TOPICS, CONTRACT_URGENCY, default_taxonomy

AS_OF = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)  # "now" for every analytics test
START = datetime(2026, 8, 15, tzinfo=UTC)
END = datetime(2026, 11, 19, tzinfo=UTC)
BOUNDARY_TWEET = "t-boundary"  # created 2026-10-31T18:00Z = 2026-11-01 01:00 WIB
TARGETS = {"darurat": 1.0, "tinggi": 24.0, "sedang": 72.0, "rendah": None}


@dataclass
class EventLog:
    routings: pd.DataFrame  # every routing in pk order: pk, tweet_id, received_at, created_at, labels
    replies: pd.DataFrame  # reply_id, tweet_id, agency_handle, replied_at
    corrections: pd.DataFrame  # every correction sent, in order: tweet_id, topic, urgency, lang, corrected_at


def routed_row(tweet_id: str | None, received_at: datetime, created_at: datetime | None = None, **changes) -> dict:
    """One routed tweet for ``PredictionLog.append``: a bencana/darurat tweet unless ``changes`` say otherwise."""
    fields = {
        "tweet_id": tweet_id,
        "request_id": "r",
        "received_at": received_at,
        "created_at": created_at,
        "text": "banjir",
        "topic": "bencana",
        "topic_confidence": 0.9,
        "urgency": "darurat",
        "urgency_confidence": 0.9,
        "lang": "id",
        "region": None,
        "agency_handle": "@bpbdjateng",
        "needs_review": True,
        "topic_version": "v",
        "urgency_version": "v",
        "latency_ms": 1.0,
    }
    return log_row(**(fields | changes))


def fact_rows(engine: Engine) -> list:
    """The ``tweet_facts`` projection in pk order (rows compare as tuples)."""
    with engine.connect() as conn:
        return list(conn.execute(select(tweet_facts).order_by(tweet_facts.c.pk)))


def _seconds(rng: np.random.Generator, low: float, high: float) -> timedelta:
    return timedelta(seconds=int(rng.integers(int(low), int(high))))


def seed_event_log(engine: Engine, seed: int = 7, n_tweets: int = 360) -> EventLog:
    """Write the synthetic event log into ``engine`` and return it as frames."""
    rng = np.random.default_rng(seed)
    agency_of = {t.id: t.agency.handle if t.agency else None for t in default_taxonomy().topics}
    span = int((END - START).total_seconds())
    routings = []
    for i in range(n_tweets):
        received = START + timedelta(seconds=int(rng.integers(0, span)))
        created = received - _seconds(rng, 0, 900) if rng.random() < 0.7 else None
        topic = str(rng.choice(CONTRACT_TOPICS, p=[0.07] * 12 + [0.16]))
        routings.append(
            {
                "tweet_id": f"t{i:04d}" if rng.random() > 0.03 else None,
                "received_at": received,
                "created_at": created,
                "topic": topic,
                "urgency": str(rng.choice(CONTRACT_URGENCY, p=[0.15, 0.25, 0.4, 0.2])),
                "lang": str(rng.choice(CONTRACT_LANGS)) if rng.random() > 0.1 else None,
                "region": str(rng.choice(CANONICAL_REGIONS[:8])) if rng.random() > 0.3 else None,
            }
        )
    # The WIB month boundary: 18:00 UTC on 31 October is 01:00 on 1 November in Jakarta.
    routings.append(
        {
            "tweet_id": BOUNDARY_TWEET,
            "received_at": datetime(2026, 10, 31, 18, 5, tzinfo=UTC),
            "created_at": datetime(2026, 10, 31, 18, 0, tzinfo=UTC),
            "topic": "bencana",
            "urgency": "darurat",
            "lang": "id",
            "region": "Kabupaten Demak",
        }
    )
    routings.sort(key=lambda r: r["received_at"])
    # Re-routings of existing ids, later and with other predictions: analytics must keep the first.
    with_ids = [r for r in routings if r["tweet_id"]]
    for original in [with_ids[int(k)] for k in rng.choice(len(with_ids), 15, replace=False)]:
        routings.append(
            original
            | {
                "received_at": original["received_at"] + _seconds(rng, 60, 86400),
                "topic": str(rng.choice(CONTRACT_TOPICS)),
                "urgency": str(rng.choice(CONTRACT_URGENCY)),
                "region": None,
            }
        )
    log = PredictionLog(engine)
    rows = [
        log_row(
            request_id=f"req-{i}",
            text=f"keluhan {r['topic']} nomor {i} di {r['region'] or 'suatu tempat'}",
            topic_confidence=0.9,
            urgency_confidence=0.8,
            agency_handle=agency_of[r["topic"]],
            needs_review=False,
            topic_version="kemala-topic/test",
            urgency_version="kemala-urgency/test",
            latency_ms=1.0,
            **r,
        )
        for i, r in enumerate(routings)
    ]
    for chunk in range(0, len(rows), 50):  # several appends, like several requests
        log.append(rows[chunk : chunk + 50])
    frame = pd.DataFrame(routings)
    frame.insert(0, "pk", range(1, len(frame) + 1))

    # Replies: most first routings with an id get one (some two or three), a few none.
    first = frame[frame.tweet_id.notna()].drop_duplicates("tweet_id")
    replies = []
    for tweet in first.itertuples():
        tweet_time = tweet.created_at if pd.notna(tweet.created_at) else tweet.received_at
        draw = rng.random()
        if draw < 0.2:
            continue
        if draw < 0.26 and TARGETS[tweet.urgency] is not None:
            delay = timedelta(hours=TARGETS[tweet.urgency])  # exactly at the target: counts as met
        else:
            delay = timedelta(seconds=float(np.exp(rng.normal(np.log(20 * 3600), 1.6))) // 1)
        for k in range(int(rng.choice([1, 1, 1, 2, 3]))):
            replied = tweet_time + delay + timedelta(hours=5 * k)
            if replied > AS_OF:
                break
            replies.append(
                {
                    "reply_id": f"r-{tweet.tweet_id}-{k}",
                    "tweet_id": tweet.tweet_id,
                    "agency_handle": agency_of[tweet.topic] or "@bpbdjateng",
                    "replied_at": replied,
                }
            )
    order = rng.permutation(len(replies))  # replies arrive out of order
    for j in order:
        r = replies[j]
        record_reply(engine, r["reply_id"], r["tweet_id"], r["agency_handle"], r["replied_at"], AS_OF)

    # Corrections: about 40 tweets, into and out of lainnya; one late, older correction must lose.
    corrections = []
    candidates = first.tweet_id[first.tweet_id != BOUNDARY_TWEET].to_numpy()
    for k, tweet_id in enumerate(rng.choice(candidates, 40, replace=False)):
        corrections.append(
            {
                "tweet_id": str(tweet_id),
                "topic": "lainnya" if k % 7 == 0 else str(rng.choice(CONTRACT_TOPICS[:12])),
                "urgency": str(rng.choice(CONTRACT_URGENCY)),
                "lang": str(rng.choice(CONTRACT_LANGS)) if k % 3 else None,
                "corrected_at": AS_OF - timedelta(days=2, minutes=k),
            }
        )
    stale = corrections[0] | {"topic": "pariwisata", "corrected_at": AS_OF - timedelta(days=30)}
    for c in [*corrections, stale]:
        upsert_correction(engine, c["tweet_id"], c["topic"], c["urgency"], c["lang"], "tester", c["corrected_at"])
    return EventLog(frame, pd.DataFrame(replies), pd.DataFrame([*corrections, stale]))
