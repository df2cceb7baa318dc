"""POST /v1/route and /v1/route/batch: topic, urgency, agency and whether a human must look."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from serving.deps import LogDep, ModelsDep, SettingsDep, TaxonomyDep
from serving.errors import NOT_READY_RESPONSES, InputError, Problem
from serving.runtime import Prediction, RoutingModels
from serving.schemas import (
    AgencyPublic,
    BatchIn,
    BatchItemIn,
    BatchPublic,
    ModelVersionsPublic,
    RouteIn,
    RoutePublic,
    TopicPublic,
    UrgencyPublic,
)
from serving.settings import Settings
from serving.store import PredictionLog, log_row
from training.regions import detect_region
from training.routing import ReviewThresholds, review_reasons
from training.taxonomy import Taxonomy

router = APIRouter(prefix="/v1/route", tags=["route"], responses=NOT_READY_RESPONSES)


def _check_lengths(items: list[BatchItemIn] | list[RouteIn], settings: Settings, batch: bool) -> None:
    problems = [
        Problem(
            f"items.{i}.text" if batch else "text",
            f"text is {len(item.text)} characters; the limit is {settings.max_text_chars}",
            "string_too_long",
        )
        for i, item in enumerate(items)
        if len(item.text) > settings.max_text_chars
    ]
    if problems:
        raise InputError(problems)


def route_items(
    items: list,
    models: RoutingModels,
    taxonomy: Taxonomy,
    settings: Settings,
    log: PredictionLog,
    request_id: str,
    pred: Prediction | None = None,
) -> list[RoutePublic]:
    """Route items (one call per model unless ``pred`` is given), log every routed tweet, answer in order."""
    t0 = time.perf_counter()
    if pred is None:
        pred = models.predict([item.text for item in items])
    thresholds = ReviewThresholds(settings.topic_threshold, settings.urgency_threshold)
    versions = ModelVersionsPublic(topic_version=models.version("topic"), urgency_version=models.version("urgency"))
    received = datetime.now(UTC)
    answers, rows = [], []
    latency_ms = (pred.seconds + time.perf_counter() - t0) * 1000 / max(1, len(items))
    for i, item in enumerate(items):
        topic_id, urgency_id = pred.labels["topic"][i], pred.labels["urgency"][i]
        t_conf, u_conf = float(pred.confidences["topic"][i]), float(pred.confidences["urgency"][i])
        topic = taxonomy.topic(topic_id)
        lang = pred.labels["lang"][i] if "lang" in pred.labels else None
        region = detect_region(item.text)
        reasons = review_reasons(t_conf, urgency_id, u_conf, thresholds)
        agency = AgencyPublic(name=topic.agency.name, handle=topic.agency.handle) if topic.agency else None
        answers.append(
            RoutePublic(
                id=item.id,
                topic=TopicPublic(id=topic_id, name=topic.name, confidence=round(t_conf, 4)),
                urgency=UrgencyPublic(id=urgency_id, confidence=round(u_conf, 4)),
                lang=lang,
                region=region,
                agency=agency,
                needs_review=bool(reasons),
                review_reasons=reasons,
                model=versions,
            )
        )
        rows.append(
            log_row(
                tweet_id=item.id,
                request_id=request_id,
                received_at=received,
                created_at=item.created_at,
                text=item.text,
                topic=topic_id,
                topic_confidence=t_conf,
                urgency=urgency_id,
                urgency_confidence=u_conf,
                lang=lang,
                region=region,
                agency_handle=agency.handle if agency else None,
                needs_review=bool(reasons),
                topic_version=versions.topic_version,
                urgency_version=versions.urgency_version,
                latency_ms=latency_ms,
            )
        )
    log.append(rows)
    return answers


@router.post("", response_model=RoutePublic, summary="Route one tweet")
async def route_one(
    body: RouteIn, request: Request, models: ModelsDep, taxonomy: TaxonomyDep, settings: SettingsDep, log: LogDep
) -> RoutePublic:
    """Topic (and its agency), urgency, language and region of one tweet, with confidences.

    ``needs_review`` is true when a confidence is under its threshold or ``darurat`` is predicted.
    """
    _check_lengths([body], settings, batch=False)
    # Concurrent requests are predicted together (serving.batcher); the answer and log write run off the loop.
    pred = await request.app.state.batcher.predict(models, body.text)
    answers = await run_in_threadpool(
        route_items, [body], models, taxonomy, settings, log, request.state.request_id, pred
    )
    return answers[0]


@router.post("/batch", response_model=BatchPublic, summary="Route a batch of tweets")
def route_batch(
    body: BatchIn, request: Request, models: ModelsDep, taxonomy: TaxonomyDep, settings: SettingsDep, log: LogDep
) -> BatchPublic:
    """Route up to ``batch_limit`` tweets (default 256), answered in order, one model call per model."""
    if len(body.items) > settings.batch_limit:
        problem = Problem("items", f"{len(body.items)} items; the limit is {settings.batch_limit}", "too_long")
        raise InputError([problem])
    _check_lengths(body.items, settings, batch=True)
    return BatchPublic(items=route_items(body.items, models, taxonomy, settings, log, request.state.request_id))
