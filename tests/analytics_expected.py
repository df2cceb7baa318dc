"""Expected analytics figures computed directly with pandas/numpy from the fixture's event frames.

Independent of the SQL in serving/analytics/queries.py: the tests compare the two.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from tests.analytics_fixture import AS_OF, TARGETS, EventLog
from training.taxonomy import default_taxonomy

ZONE = "Asia/Jakarta"
AGENCY_OF = {t.id: t.agency.handle if t.agency else None for t in default_taxonomy().topics}
URGENCY_RANK = {u: i for i, u in enumerate(("darurat", "tinggi", "sedang", "rendah"))}


def final_tweets(log: EventLog) -> pd.DataFrame:
    """First routing per tweet id (every id-less routing), with the latest correction's labels."""
    r = log.routings
    first = pd.concat([r[r.tweet_id.isna()], r[r.tweet_id.notna()].drop_duplicates("tweet_id", keep="first")])
    first = first.sort_values("pk")
    latest = log.corrections.sort_values("corrected_at", kind="stable").drop_duplicates("tweet_id", keep="last")
    m = first.merge(latest[["tweet_id", "topic", "urgency", "lang"]], on="tweet_id", how="left", suffixes=("", "_c"))
    for col in ("topic", "urgency", "lang"):
        m[col] = m[f"{col}_c"].where(m[f"{col}_c"].notna(), m[col])
    m["tweet_time"] = pd.to_datetime(m.created_at.where(m.created_at.notna(), m.received_at), utc=True)
    m["agency"] = m.topic.map(AGENCY_OF)
    return m.drop(columns=["topic_c", "urgency_c", "lang_c"])


def _period(local: pd.Series, interval: str) -> pd.Series:
    day = local.dt.normalize()
    if interval == "week":
        return day - pd.to_timedelta(local.dt.weekday, unit="D")
    if interval == "month":
        return day - pd.to_timedelta(local.dt.day - 1, unit="D")
    return day


def period_starts(start: datetime, end: datetime, interval: str) -> list[pd.Timestamp]:
    first = _period(pd.Series([pd.Timestamp(start).tz_convert(ZONE)]), interval).iloc[0]
    freq = {"day": "D", "week": "7D", "month": "MS"}[interval]
    out = list(pd.date_range(first, pd.Timestamp(end).tz_convert(ZONE), freq=freq, inclusive="left"))
    return [p for p in out if p < pd.Timestamp(end)]


def complaints(log: EventLog, start: datetime, end: datetime, interval: str, group_by: str) -> dict:
    """{period_start: {total, lainnya, complaints, groups}} plus "totals"."""
    t = final_tweets(log)
    t = t[(t.tweet_time >= pd.Timestamp(start)) & (t.tweet_time < pd.Timestamp(end))].copy()
    t["period"] = _period(t.tweet_time.dt.tz_convert(ZONE), interval)
    t["group"] = t[{"agency": "agency"}.get(group_by, group_by)]

    def summary(frame: pd.DataFrame) -> dict:
        complaints_ = frame[frame.topic != "lainnya"]
        groups = {(None if pd.isna(g) else g): int(n) for g, n in complaints_.group.value_counts(dropna=False).items()}
        lainnya = int((frame.topic == "lainnya").sum())
        return {
            "total": len(frame),
            "lainnya": lainnya,
            "complaints": len(frame) - lainnya,
            "lainnya_share": lainnya / len(frame) if len(frame) else None,
            "groups": groups,
        }

    out = {p: summary(t[t.period == p]) for p in period_starts(start, end, interval)}
    out["totals"] = summary(t)
    return out


def response_frame(log: EventLog, start: datetime, end: datetime) -> pd.DataFrame:
    t = final_tweets(log)
    t = t[(t.tweet_time >= pd.Timestamp(start)) & (t.tweet_time < pd.Timestamp(end))]
    t = t[t.tweet_id.notna() & (t.topic != "lainnya")].copy()
    first_reply = log.replies.groupby("tweet_id").replied_at.min()
    t["first_reply"] = pd.to_datetime(t.tweet_id.map(first_reply), utc=True)
    t["secs"] = (t.first_reply - t.tweet_time).dt.total_seconds()
    t["age"] = (pd.Timestamp(AS_OF) - t.tweet_time).dt.total_seconds()
    t["target"] = t.urgency.map(lambda u: TARGETS[u] * 3600 if TARGETS[u] is not None else np.nan)
    return t


def response_summary(frame: pd.DataFrame) -> dict:
    answered = frame.secs.notna()
    hours = frame.secs[answered] / 3600
    has_target = frame.target.notna()
    met = has_target & answered & (frame.secs <= frame.target)
    missed = has_target & ((answered & (frame.secs > frame.target)) | (~answered & (frame.age > frame.target)))
    pending = has_target & ~answered & (frame.age <= frame.target)
    return {
        "complaints": len(frame),
        "answered": int(answered.sum()),
        "unanswered": int((~answered).sum()),
        "median_hours": float(np.percentile(hours, 50)) if len(hours) else None,
        "p90_hours": float(np.percentile(hours, 90)) if len(hours) else None,
        "sla_met": int(met.sum()),
        "sla_missed": int(missed.sum()),
        "sla_pending": int(pending.sum()),
        "within_target_share": met.sum() / (met.sum() + missed.sum()) if met.sum() + missed.sum() else None,
    }


def response_times(log: EventLog, start: datetime, end: datetime, group_by: str) -> dict:
    frame = response_frame(log, start, end)
    out = {str(g): response_summary(frame[frame[group_by] == g]) for g in frame[group_by].unique()}
    out["all"] = response_summary(frame)
    return out


def backlog(log: EventLog, agency: str | None = None) -> pd.DataFrame:
    t = final_tweets(log)
    answered = set(log.replies.tweet_id)
    t = t[t.tweet_id.notna() & (t.topic != "lainnya") & ~t.tweet_id.isin(answered)].copy()
    t["target_h"] = t.urgency.map(TARGETS)
    t = t[t.target_h.notna()]
    t["due"] = t.tweet_time + pd.to_timedelta(t.target_h.astype(float), unit="h")
    t = t[t.due < pd.Timestamp(AS_OF)]
    if agency:
        t = t[t.agency == agency]
    t["rank"] = t.urgency.map(URGENCY_RANK)
    return t.sort_values(["rank", "tweet_time", "pk"])
