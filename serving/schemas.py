"""Request and response schemas of the routing API (pydantic v2)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from training.taxonomy import CONTRACT_LANGS, CONTRACT_TOPICS, CONTRACT_URGENCY


def _clean_text(value: str) -> str:
    if not value.strip():
        raise ValueError("text is empty or whitespace only")
    if "\x00" in value:
        raise ValueError("text contains a null byte")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"text is not valid Unicode (lone surrogate at position {exc.start})") from exc
    return value


# Hard caps in the published schema; the settings may set lower limits (answered with the same 422 shape).
MAX_TEXT_CHARS = 1000
MAX_BATCH_ITEMS = 1024
# At least one non-space character and no NUL, stated in the schema so clients can check before sending.
Text = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEXT_CHARS, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$"),
    AfterValidator(_clean_text),
]
TweetId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\w\-:.@]+$")]


# The contract's ids (a breaking change to alter), so the published schema lists them as enums.
TopicId = Literal[CONTRACT_TOPICS]
UrgencyId = Literal[CONTRACT_URGENCY]
LangId = Literal[CONTRACT_LANGS]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class RouteIn(_In):
    """One tweet to route."""

    text: Text = Field(description="The tweet text, as posted (emoji, Javanese script and any Unicode welcome).")
    id: TweetId | None = Field(default=None, description="The client's id for the tweet (echoed back).")
    created_at: datetime | None = Field(default=None, description="When the tweet was posted (ISO 8601).")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "Banyu PDAM mati wis telung dina #KemalaJateng", "id": "1789"}]},
    )


class BatchItemIn(_In):
    text: Text
    id: TweetId | None = None
    created_at: datetime | None = None


class BatchIn(_In):
    """Several tweets, answered in order with one model call per model."""

    items: list[BatchItemIn] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class TopicPublic(BaseModel):
    id: str
    name: str
    confidence: float


class UrgencyPublic(BaseModel):
    id: str
    confidence: float


class AgencyPublic(BaseModel):
    name: str
    handle: str


class ModelVersionsPublic(BaseModel):
    topic_version: str
    urgency_version: str


class RoutePublic(BaseModel):
    """The routing answer for one tweet."""

    id: str | None
    topic: TopicPublic
    urgency: UrgencyPublic
    lang: str | None = Field(description="id, jv or campur; null when no language model is loaded.")
    region: str | None = Field(description="Central Java regency/city the tweet names, or null.")
    agency: AgencyPublic | None = Field(description="Who answers; null for `lainnya` (not routed).")
    needs_review: bool
    review_reasons: list[str]
    model: ModelVersionsPublic


class BatchPublic(BaseModel):
    items: list[RoutePublic]


class LabelPublic(BaseModel):
    id: str
    name: str
    description: str


class TopicTaxonomyPublic(LabelPublic):
    agency: AgencyPublic | None


class UrgencyTaxonomyPublic(LabelPublic):
    expected_response: str


class TaxonomyPublic(BaseModel):
    version: int
    topics: list[TopicTaxonomyPublic]
    urgency: list[UrgencyTaxonomyPublic]
    languages: list[LabelPublic]


class ModelInfo(BaseModel):
    task: str
    version: str
    family: str
    labels: list[str]
    run_id: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)


class ModelsPublic(BaseModel):
    source: str
    loaded_at: datetime
    models: list[ModelInfo]


class PredictedIn(_In):
    topic: TopicId | None = None
    urgency: UrgencyId | None = None
    topic_confidence: float | None = Field(default=None, ge=0, le=1)
    urgency_confidence: float | None = Field(default=None, ge=0, le=1)
    model: dict[str, str] | None = None


class FeedbackIn(_In):
    """A reviewer's correction of a routed tweet."""

    id: TweetId
    text: Text
    topic: TopicId
    urgency: UrgencyId
    lang: LangId | None = None
    reviewer: str = Field(min_length=1, max_length=100)
    predicted: PredictedIn | None = None


class FeedbackPublic(BaseModel):
    id: str
    stored: bool
    received_at: datetime


class ReloadIn(_In):
    models_dir: str | None = Field(
        default=None, description="Load this exported folder instead of the configured source."
    )


class ReloadPublic(BaseModel):
    reloaded: bool
    models: ModelsPublic


class ErrorPublic(BaseModel):
    detail: str | list[dict[str, Any]]
