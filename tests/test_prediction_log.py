"""The prediction log (serving/store.py): group commit keeps every append, once, with its facts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from serving.analytics.facts import rebuild_facts
from serving.analytics.store import open_store
from serving.store import PredictionLog, _PendingAppend, routed_tweets
from tests.analytics_fixture import fact_rows, routed_row

START = datetime(2026, 11, 1, tzinfo=UTC)


def test_concurrent_appends_are_all_committed_once_with_their_facts(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    log = PredictionLog(engine)
    barrier = threading.Barrier(16)
    errors = []

    def client(k: int) -> None:
        try:
            barrier.wait()
            for i in range(10):
                log.append(
                    [
                        routed_row(f"c{k}-{i}", START + timedelta(minutes=i)),
                        routed_row(None, START + timedelta(minutes=i)),
                    ]
                )
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
    facts = fact_rows(engine)
    assert len(facts) == 320
    rebuild_facts(engine)
    assert fact_rows(engine) == facts


def test_a_bad_append_fails_alone_when_committed_with_others(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'log.db'}")
    log = PredictionLog(engine)
    good, bad, other = (
        _PendingAppend([routed_row("a", START)]),
        _PendingAppend([routed_row("b", START, text=None)]),  # text is NOT NULL
        _PendingAppend([routed_row("c", START), routed_row(None, START)]),
    )
    log._commit([good, bad, other])
    assert good.done and bad.done and other.done
    assert good.error is None and other.error is None and isinstance(bad.error, IntegrityError)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(routed_tweets.c.tweet_id)).scalars(), key=str) == [None, "a", "c"]
    assert len(fact_rows(engine)) == 3


def test_an_append_that_cannot_be_written_raises_to_its_caller(tmp_path):
    log = PredictionLog(open_store(f"sqlite:///{tmp_path / 'log.db'}"))
    with pytest.raises(IntegrityError):
        log.append([routed_row("x", START, text=None)])
    log.append([routed_row("y", START)])  # the log keeps working
    assert log.count() == 1


def test_an_interrupted_group_write_fails_every_waiting_caller(tmp_path, monkeypatch):
    log = PredictionLog(open_store(f"sqlite:///{tmp_path / 'log.db'}"))
    batch = [_PendingAppend([routed_row("a", START)]), _PendingAppend([routed_row("b", START)])]

    def interrupted(rows):
        raise KeyboardInterrupt

    monkeypatch.setattr(log, "_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        log._commit(batch)
    assert all(p.done and isinstance(p.error, RuntimeError) for p in batch)
