"""The routing decision shared by ``kemala predict`` and the API: when a human must review.

No torch import: the serving app uses this.
"""

from __future__ import annotations

from dataclasses import dataclass

from training.taxonomy import EMERGENCY


@dataclass(frozen=True)
class ReviewThresholds:
    """Confidences under these send a tweet to human review."""

    topic: float = 0.5
    urgency: float = 0.5


def review_reasons(
    topic_confidence: float | None,
    urgency: str | None,
    urgency_confidence: float | None,
    thresholds: ReviewThresholds | None = None,
) -> list[str]:
    """Why a routed tweet needs a human look (empty list: forward it directly)."""
    thresholds = thresholds or ReviewThresholds()
    reasons = []
    if topic_confidence is not None and topic_confidence < thresholds.topic:
        reasons.append(f"topic confidence {topic_confidence:.2f} < {thresholds.topic:.2f}")
    if urgency_confidence is not None and urgency_confidence < thresholds.urgency:
        reasons.append(f"urgency confidence {urgency_confidence:.2f} < {thresholds.urgency:.2f}")
    if urgency == EMERGENCY:
        reasons.append("darurat predicted: confirm before forwarding")
    return reasons
