"""POST /v1/replies: an agency's reply to a routed tweet (what the response-time stats are made of)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response, status

from serving.analytics.schemas import ProblemsPublic, ReplyIn, ReplyPublic
from serving.analytics.store import ReplyRejected, record_reply
from serving.deps import AnalyticsDep, LogDep, NowDep
from serving.errors import InputError, Problem

router = APIRouter(prefix="/v1", tags=["analytics"])

# Replies are posted by clients with their own clocks; a little skew is not a reply from the future.
CLOCK_SKEW = timedelta(minutes=5)


@router.post(
    "/replies",
    response_model=ReplyPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Record an agency's reply to a routed tweet",
    responses={
        200: {"model": ReplyPublic, "description": "This reply_id was already stored with the same content"},
        409: {"model": ProblemsPublic, "description": "This reply_id is stored with different content"},
    },
)
def post_reply(body: ReplyIn, response: Response, log: LogDep, analytics: AnalyticsDep, now: NowDep) -> ReplyPublic:
    """Store the reply once per ``reply_id`` (201); the same reply again answers 200 with the stored record.

    The tweet must have been routed (``tweet_id`` as sent to ``/v1/route``), the agency must be in the
    taxonomy, and the reply may not precede the tweet (its ``created_at``, else when it was routed).
    Nothing is written when any check fails.
    """
    problems = []
    if body.agency_handle not in analytics.agencies:
        problems.append(
            Problem(
                "agency_handle",
                f"unknown agency {body.agency_handle!r}; allowed: {', '.join(analytics.agencies)}",
                "unknown_agency",
            )
        )
    if body.replied_at > now + CLOCK_SKEW:
        problems.append(Problem("replied_at", f"{body.replied_at.isoformat()} is in the future", "future"))
    if problems:
        raise InputError(problems)
    try:
        stored, created = record_reply(
            log.engine, body.reply_id, body.tweet_id, body.agency_handle, body.replied_at, now
        )
    except ReplyRejected as exc:
        raise InputError([Problem(exc.field, exc.msg, exc.kind)], exc.status) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    return ReplyPublic(
        reply_id=stored.reply_id,
        tweet_id=stored.tweet_id,
        agency_handle=stored.agency_handle,
        replied_at=analytics.local(stored.replied_at),
        recorded_at=analytics.local(stored.recorded_at),
        created=created,
    )
