"""FastAPI dependencies: settings, API-key auth, the current models, the prediction log, analytics, the clock."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from serving.analytics.queries import AnalyticsConfig
from serving.runtime import ModelHolder, RoutingModels
from serving.settings import Settings
from serving.store import PredictionLog
from training.taxonomy import Taxonomy

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key.")
_bearer = HTTPBearer(auto_error=False, description="The API key as a bearer token.")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_taxonomy(request: Request) -> Taxonomy:
    return request.app.state.taxonomy


def get_log(request: Request) -> PredictionLog:
    return request.app.state.log


def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder


def get_analytics(request: Request) -> AnalyticsConfig:
    return request.app.state.analytics


def get_now() -> datetime:
    """The current time (UTC); a dependency so tests can fix the clock."""
    return datetime.now(UTC)


def require_api_key(
    request: Request,
    key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Accept ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``; 401 otherwise."""
    given = key or (bearer.credentials if bearer else None)
    if not given:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing API key: send X-API-Key or Authorization: Bearer")
    if not any(secrets.compare_digest(given, k) for k in request.app.state.api_keys):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid API key")
    return given


def get_models(holder: Annotated[ModelHolder, Depends(get_holder)]) -> RoutingModels:
    """The models at the moment the request starts (a reload does not affect it); 503 if none."""
    models = holder.current
    if models is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"models not loaded: {holder.error}")
    return models


SettingsDep = Annotated[Settings, Depends(get_settings)]
TaxonomyDep = Annotated[Taxonomy, Depends(get_taxonomy)]
LogDep = Annotated[PredictionLog, Depends(get_log)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
ModelsDep = Annotated[RoutingModels, Depends(get_models)]
AnalyticsDep = Annotated[AnalyticsConfig, Depends(get_analytics)]
NowDep = Annotated[datetime, Depends(get_now)]
ApiKeyDep = Depends(require_api_key)
