"""The Kemala routing API: ``create_app(settings)`` builds it; ``serving.app:app`` is the default instance."""

from __future__ import annotations

import gc
import json
import logging
import secrets
import time
import uuid
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from serving.analytics.facts import PlannerStatistics
from serving.analytics.queries import AnalyticsConfig
from serving.batcher import MicroBatcher
from serving.deps import require_api_key
from serving.errors import AUTH_RESPONSES, InputError, Problem, input_error_handler, problems_response
from serving.routers import feedback, health, meta, replies, route, stats
from serving.runtime import ModelHolder
from serving.settings import Settings, get_settings
from serving.store import PredictionLog, make_engine
from training.taxonomy import load_taxonomy

logger = logging.getLogger("kemala.api")
access_logger = logging.getLogger("kemala.access")


_LOCATIONS = ("body", "query", "path", "header", "cookie")


def _field(loc: tuple | list) -> tuple[str, str]:
    """``(field, location)``: ``("items.3.text", "body")``, ``("from", "query")``."""
    location = str(loc[0]) if loc and loc[0] in _LOCATIONS else "body"
    parts = [str(p) for p in (loc[1:] if loc and loc[0] in _LOCATIONS else loc)]
    return ".".join(parts) or location, location


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 listing every problem with the field it concerns (``items.3.text``, or a query parameter)."""
    problems = []
    for e in exc.errors():
        kind, msg = e.get("type", ""), str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if kind == "json_invalid":  # loc is (body, character position)
            problems.append(Problem("body", f"invalid JSON at character {e['loc'][-1]}: {msg}", kind))
        else:
            field, location = _field(e.get("loc", ()))
            problems.append(Problem(field, msg, kind, location))
    return problems_response(problems)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s (request %s)", request.url.path, getattr(request.state, "request_id", "-"))
    return JSONResponse(
        {"detail": "internal error", "request_id": getattr(request.state, "request_id", None)}, status_code=500
    )


def create_app(settings: Settings | None = None, load_models: bool = True) -> FastAPI:
    """Build the app. Models load in the lifespan handler (never per request)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if load_models:
            try:
                app.state.holder.reload(settings)
            except Exception:
                logger.warning("starting without models: %s", app.state.holder.error)
        await app.state.batcher.start()
        if settings.freeze_gc:
            # Startup objects (modules, models, the taxonomy) live as long as the process, yet every full
            # collection walks them all; a stats request allocates a month of rows, which triggers full
            # collections (measured ~100 ms each with the models loaded: the response-times p99 on 1M
            # tweets). Frozen, they are skipped; reference counting still frees them.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if settings.freeze_gc:
                gc.unfreeze()
            await app.state.batcher.stop()
            app.state.log.engine.dispose()

    app = FastAPI(
        title="Kemala routing API",
        version="1.0.0",
        description="Routes Central Java citizen complaint tweets to the agency that answers them.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.taxonomy = load_taxonomy(settings.taxonomy_path)
    app.state.holder = ModelHolder()
    app.state.batcher = MicroBatcher(max_batch=settings.batch_limit)
    app.state.log = PredictionLog(make_engine(settings.database_url))
    app.state.analytics = AnalyticsConfig.from_settings(settings, app.state.taxonomy)
    app.state.planner_stats = PlannerStatistics(app.state.log.engine, settings.stats_analyze_interval_s)
    keys = settings.key_values()
    if not keys:
        # Local mode only (production refuses to start without keys): a one-off key, logged once.
        keys = {secrets.token_urlsafe(24)}
        logger.warning("no KEMALA_API_KEYS set; generated a local key for this process: %s", next(iter(keys)))
    app.state.api_keys = keys

    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InputError, input_error_handler)
    app.add_exception_handler(Exception, _unexpected_error)

    @app.middleware("http")
    async def request_context(request: Request, call_next):
        request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        request.state.request_id = request_id[:64]
        t0 = time.perf_counter()
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        access_logger.info(
            json.dumps(
                {
                    "request_id": request.state.request_id,
                    "method": request.method,
                    "path": request.url.path,
                    "status": response.status_code,
                    "ms": round((time.perf_counter() - t0) * 1000, 2),
                }
            )
        )
        return response

    secured = [Depends(require_api_key)]
    app.include_router(health.router)
    app.include_router(route.router, dependencies=secured, responses=AUTH_RESPONSES)
    app.include_router(meta.router, dependencies=secured, responses=AUTH_RESPONSES)
    app.include_router(feedback.router, dependencies=secured, responses=AUTH_RESPONSES)
    app.include_router(replies.router, dependencies=secured, responses=AUTH_RESPONSES)
    app.include_router(stats.router, dependencies=secured, responses=AUTH_RESPONSES)
    return app


def __getattr__(name: str):
    # ``uvicorn serving.app:app`` builds the default app lazily, so importing this module stays cheap.
    if name == "app":
        return create_app()
    raise AttributeError(name)
