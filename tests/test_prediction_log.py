"""The prediction log (serving/store.py): group commit keeps every append, once, with its facts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from serving.analytics.facts import rebuild_facts
from serving.analytics.store import open_store, tweet_facts
from serving.store import PredictionLog, _PendingAppend, log_row, routed_tweets

START = datetime(2026, 11, 1, tzinfo=UTC)


def _row(tweet_id: str | None, minutes: int = 0, **changes) -> dict:
    return (
        log_row(
            tweet_id=tweet_id,
            request_id="r",
            received_at=START + timedelta(minutes=minutes),
            created_at=None,
            text="jalan berlubang",
            topic="infrastruktur",
            topic_confidence=0.9,
            urgency="sedang",
            urgency_confidence=0.8,
            lang="id",
            region=None,
            agency_handle="@dpubinmarckjtg",
            needs_review=False,
            topic_version="v",
            urgency_version="v",
            latency_ms=1.0,
        )
        | changes
    )


def _facts(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(tweet_facts).order_by(tweet_facts.c.pk))]


def test_concurrent_appends_are_all_committed_once_with_their_facts(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    log = PredictionLog(engine)
    barrier = threading.Barrier(16)
    errors = []

    def client(k: int) -> None:
        try:
            barrier.wait()
            for i in range(10):
                log.append([_row(f"c{k}-{i}", i), _row(None, i)])
        except Exception as exc:  # collected: the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    with engine.connect() as conn:
        ids = conn.execute(select(routed_tweets.c.tweet_id).where(routed_tweets.c.tweet_id.is_not(None))).scalars()
        assert sorted(ids) == sorted(f"c{k}-{i}" for k in range(16) for i in range(10))
        assert conn.execute(select(func.count()).select_from(routed_tweets)).scalar_one() == 320
    facts = _facts(engine)
    assert len(facts) == 320
    rebuild_facts(engine)
    assert _facts(engine) == facts


def test_a_bad_append_fails_alone_when_committed_with_others(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    log = PredictionLog(engine)
    good, bad, other = (
        _PendingAppend([_row("a")]),
        _PendingAppend([_row("b", text=None)]),  # text is NOT NULL
        _PendingAppend([_row("c"), _row(None)]),
    )
    log._commit([good, bad, other])
    assert good.done and bad.done and other.done
    assert good.error is None and other.error is None and isinstance(bad.error, IntegrityError)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(routed_tweets.c.tweet_id)).scalars(), key=str) == [None, "a", "c"]
    assert len(_facts(engine)) == 3


def test_an_append_that_cannot_be_written_raises_to_its_caller(tmp_path):
    log = PredictionLog(open_store(f"sqlite:///{tmp_path / 'log.db'}"))
    with pytest.raises(IntegrityError):
        log.append([_row("x", text=None)])
    log.append([_row("y")])  # the log keeps working
    assert log.count() == 1


def test_an_interrupted_group_write_fails_every_waiting_caller(tmp_path, monkeypatch):
    log = PredictionLog(open_store(f"sqlite:///{tmp_path / 'log.db'}"))
    batch = [_PendingAppend([_row("a")]), _PendingAppend([_row("b")])]

    def interrupted(rows):
        raise KeyboardInterrupt

    monkeypatch.setattr(log, "_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        log._commit(batch)
    assert all(p.done and isinstance(p.error, RuntimeError) for p in batch)
