"""POST /v1/feedback: a reviewer's correction, validated and stored durably for relabelling and analytics."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, status

from serving.analytics.store import upsert_correction
from serving.deps import LogDep, SettingsDep, TaxonomyDep
from serving.errors import InputError, Problem
from serving.feedback import append_record
from serving.schemas import FeedbackIn, FeedbackPublic

router = APIRouter(prefix="/v1", tags=["feedback"])


@router.post(
    "/feedback",
    response_model=FeedbackPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Store a reviewer's correction",
)
def feedback(body: FeedbackIn, tax: TaxonomyDep, settings: SettingsDep, log: LogDep) -> FeedbackPublic:
    """Validate the corrected labels against the taxonomy, append them to the feedback store and make
    them the tweet's final labels for analytics (the latest correction of a tweet wins there)."""
    problems = [
        Problem(field, f"unknown {field} {getattr(body, field)!r}; allowed: {', '.join(allowed)}", "unknown_label")
        for field, allowed in (("topic", tax.topic_ids), ("urgency", tax.urgency_ids), ("lang", tax.lang_ids))
        if getattr(body, field) is not None and getattr(body, field) not in allowed
    ]
    if problems:
        raise InputError(problems)
    received = datetime.now(UTC)
    record = body.model_dump(mode="json") | {"received_at": received.isoformat()}
    # The idempotent upsert goes first: if it fails the client retries and the JSONL gets no duplicate line.
    upsert_correction(log.engine, body.id, body.topic, body.urgency, body.lang, body.reviewer, received)
    append_record(settings.feedback_path, record)
    return FeedbackPublic(id=body.id, stored=True, received_at=received)
