"""GET /v1/taxonomy and /v1/model; POST /v1/admin/reload."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.concurrency import run_in_threadpool

from serving.deps import HolderDep, ModelsDep, SettingsDep, TaxonomyDep
from serving.errors import NOT_READY_RESPONSES, RELOAD_RESPONSES
from serving.schemas import (
    AgencyPublic,
    LabelPublic,
    ModelsPublic,
    ReloadIn,
    ReloadPublic,
    TaxonomyPublic,
    TopicTaxonomyPublic,
    UrgencyTaxonomyPublic,
)

router = APIRouter(prefix="/v1", tags=["meta"])


@router.get("/taxonomy", response_model=TaxonomyPublic, summary="Topics, agencies, urgency levels, languages")
def taxonomy(tax: TaxonomyDep) -> TaxonomyPublic:
    """The label taxonomy the API routes with (from ``data/labels/taxonomy.yaml``)."""
    topics = [
        TopicTaxonomyPublic(
            id=t.id,
            name=t.name,
            description=t.description,
            agency=AgencyPublic(**t.agency.model_dump()) if t.agency else None,
        )
        for t in tax.topics
    ]
    urgency = [UrgencyTaxonomyPublic(**u.model_dump()) for u in tax.urgency]
    langs = [LabelPublic(**lang.model_dump()) for lang in tax.languages]
    return TaxonomyPublic(version=tax.version, topics=topics, urgency=urgency, languages=langs)


@router.get("/model", response_model=ModelsPublic, summary="The models being served", responses=NOT_READY_RESPONSES)
def model_info(models: ModelsDep) -> ModelsPublic:
    """Names, versions, run ids, headline test metrics and when the models were loaded."""
    return models.public()


@router.post("/admin/reload", response_model=ReloadPublic, summary="Reload the champions", responses=RELOAD_RESPONSES)
async def reload(holder: HolderDep, settings: SettingsDep, body: ReloadIn | None = None) -> ReloadPublic:
    """Load the current champions (or ``models_dir``) and swap them in atomically.

    Requests in flight finish on the old models. If loading fails, the old models keep serving
    and the answer (409) says why.
    """
    try:
        fresh = await run_in_threadpool(holder.reload, settings, body.models_dir if body else None)
    except Exception as exc:
        serving = holder.current.source if holder.current else "nothing"
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"reload failed, still serving {serving}: {type(exc).__name__}: {exc}"
        ) from exc
    return ReloadPublic(reloaded=True, models=fresh.public())
