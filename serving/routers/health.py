"""Liveness and readiness (no API key: load balancers call these)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serving.deps import HolderDep

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", summary="The process is up")
def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Models are loaded", responses={503: {"description": "Models not loaded (reason)"}})
def ready(holder: HolderDep) -> JSONResponse:
    """200 once models are loaded; 503 with the reason until then."""
    if holder.current is None:
        return JSONResponse({"status": "not ready", "detail": holder.error}, status_code=503)
    return JSONResponse({"status": "ready", "source": holder.current.source})
