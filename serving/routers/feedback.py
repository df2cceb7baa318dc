"""POST /v1/feedback: a reviewer's correction, validated and stored durably for relabelling."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, status

from serving.deps import SettingsDep, TaxonomyDep
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
def feedback(body: FeedbackIn, tax: TaxonomyDep, settings: SettingsDep) -> FeedbackPublic:
    """Validate the corrected labels against the taxonomy and append them to the feedback store."""
    problems = [
        Problem(field, f"unknown {field} {getattr(body, field)!r}; allowed: {', '.join(allowed)}", "unknown_label")
        for field, allowed in (("topic", tax.topic_ids), ("urgency", tax.urgency_ids), ("lang", tax.lang_ids))
        if getattr(body, field) is not None and getattr(body, field) not in allowed
    ]
    if problems:
        raise InputError(problems)
    received = datetime.now(UTC)
    record = body.model_dump(mode="json") | {"received_at": received.isoformat()}
    append_record(settings.feedback_path, record)
    return FeedbackPublic(id=body.id, stored=True, received_at=received)
