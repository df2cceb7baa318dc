"""Request and response schemas of the analytics endpoints (pydantic v2).

Times in responses are in the reporting zone (WIB by default), with their offset; stored times are UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from serving.schemas import TweetId

Interval = Literal["day", "week", "month"]
ComplaintGroup = Literal["topic", "agency", "region", "urgency", "lang"]
ResponseGroup = Literal["agency", "urgency", "topic"]
AgencyHandle = Annotated[str, Field(pattern=r"^@\w{1,50}$", description="An agency's reply account, e.g. @bpbdjateng.")]
ReplyId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\w\-:.@]+$")]


class ReplyIn(BaseModel):
    """An agency's reply to a routed tweet."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tweet_id": "1789",
                    "agency_handle": "@esdmjateng",
                    "replied_at": "2026-11-02T08:15:00+07:00",
                    "reply_id": "1790",
                }
            ]
        },
    )

    tweet_id: TweetId = Field(description="The routed tweet answered (the id sent to /v1/route).")
    agency_handle: AgencyHandle
    replied_at: AwareDatetime = Field(description="When the reply was posted: ISO 8601 with an offset.")
    reply_id: ReplyId = Field(description="The reply's own id; posting the same reply again is harmless.")


class ReplyPublic(BaseModel):
    reply_id: str
    tweet_id: str
    agency_handle: str
    replied_at: datetime
    recorded_at: datetime = Field(description="When Kemala first stored the reply.")
    created: bool = Field(description="False when this reply_id was already stored with the same content.")


class GroupCountPublic(BaseModel):
    group: str | None = Field(description="The group's id (topic, agency handle, region, ...); null = not known.")
    count: int


class CountsPublic(BaseModel):
    total: int = Field(description="Routed tweets, `lainnya` included (first routing per tweet id).")
    complaints: int = Field(description="Routed tweets that are complaints (`lainnya` excluded).")
    lainnya: int = Field(description="Routed tweets that are not complaints (`lainnya`).")
    lainnya_share: float | None = Field(description="lainnya / total; null when there is no tweet.")
    groups: list[GroupCountPublic] = Field(description="Complaints per group (`lainnya` excluded).")


class PeriodCountsPublic(CountsPublic):
    period_start: datetime = Field(description="Local midnight starting the day, the Monday or the 1st.")


class ComplaintStatsPublic(BaseModel):
    start: datetime = Field(description="The range's start (`from`, inclusive).")
    end: datetime = Field(description="The range's end (`to`, exclusive).")
    interval: Interval
    group_by: ComplaintGroup
    timezone: str
    totals: CountsPublic
    periods: list[PeriodCountsPublic] = Field(description="Every period overlapping the range, empty ones too.")


class ResponseTimeGroupPublic(BaseModel):
    group: str = Field(description="Agency handle, urgency or topic id; `all` for the overall row.")
    complaints: int = Field(description="Complaints with a tweet id in the range (`lainnya` excluded).")
    answered: int
    unanswered: int
    median_hours: float | None = Field(description="Median time to the first reply, answered tweets only.")
    p90_hours: float | None = Field(description="90th percentile of the time to the first reply (linear).")
    sla_met: int = Field(description="First reply within the urgency's target.")
    sla_missed: int = Field(description="First reply after the target, or no reply and the target has passed.")
    sla_pending: int = Field(description="No reply yet, target not yet passed (not in the share).")
    within_target_share: float | None = Field(
        description="sla_met / (sla_met + sla_missed); urgencies without a target are excluded."
    )


class ResponseTimesPublic(BaseModel):
    start: datetime
    end: datetime
    group_by: ResponseGroup
    timezone: str
    as_of: datetime = Field(description="The time unanswered tweets were judged at.")
    targets_hours: dict[str, float | None] = Field(description="Response target per urgency (null: none).")
    overall: ResponseTimeGroupPublic
    groups: list[ResponseTimeGroupPublic]


class BacklogItemPublic(BaseModel):
    tweet_id: str
    text: str
    topic: str
    urgency: str
    agency_handle: str | None
    region: str | None
    tweet_time: datetime = Field(description="When the tweet was posted (else routed).")
    target_hours: float
    due_at: datetime
    hours_overdue: float


class BacklogPublic(BaseModel):
    as_of: datetime
    agency: str | None = Field(description="The agency filter, null for all.")
    limit: int
    count: int = Field(description="Items returned.")
    has_more: bool = Field(description="More overdue tweets exist beyond `limit`.")
    items: list[BacklogItemPublic] = Field(description="Most urgent first, then oldest first.")


class ProblemPublic(BaseModel):
    loc: list[str | int]
    field: str
    msg: str
    type: str


class ProblemsPublic(BaseModel):
    """The shape of every bad-input answer (see serving.errors)."""

    detail: list[ProblemPublic]
    message: str
