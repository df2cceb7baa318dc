"""Routing API settings, from environment variables (``KEMALA_*``) and an optional ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from training.taxonomy import DEFAULT_TAXONOMY_PATH, REPO_ROOT


class Settings(BaseSettings):
    """Everything the API reads at start-up. ``KEMALA_API_KEYS`` is a JSON list or comma-separated."""

    model_config = SettingsConfigDict(env_prefix="KEMALA_", env_file=".env", extra="ignore")

    environment: Literal["local", "production"] = "local"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_keys: list[SecretStr] = Field(default_factory=list)

    # Where models come from: an exported folder (no tracking store needed) or registry aliases.
    model_source: Literal["export", "registry"] = "export"
    models_dir: Path = REPO_ROOT / "models"
    registry_alias: str = "champion"
    tracking_uri: str | None = None
    taxonomy_path: Path = DEFAULT_TAXONOMY_PATH

    topic_threshold: float = Field(default=0.5, ge=0, le=1)
    urgency_threshold: float = Field(default=0.5, ge=0, le=1)
    batch_limit: int = Field(default=256, ge=1, le=1024)  # <= serving.schemas.MAX_BATCH_ITEMS
    max_text_chars: int = Field(default=1000, ge=1, le=1000)  # <= serving.schemas.MAX_TEXT_CHARS

    database_url: str = f"sqlite:///{REPO_ROOT / 'data' / 'serving' / 'kemala.db'}"
    feedback_path: Path = REPO_ROOT / "data" / "labels" / "feedback.jsonl"

    # Analytics: the zone reports use (periods, month boundaries; times are stored in UTC) and the
    # response-time target per urgency in hours (None = no target: excluded from the SLA share).
    timezone: str = "Asia/Jakarta"
    sla_darurat_hours: float | None = Field(default=1.0, gt=0)
    sla_tinggi_hours: float | None = Field(default=24.0, gt=0)
    sla_sedang_hours: float | None = Field(default=72.0, gt=0)
    sla_rendah_hours: float | None = Field(default=None, gt=0)
    # How often (seconds) a stats request refreshes SQLite's planner statistics on the analytics facts.
    stats_analyze_interval_s: float = Field(default=3600.0, gt=0)
    # Move what is alive after startup (modules, models) out of the garbage collector's full passes; see
    # serving.app's lifespan for why (KEMALA_FREEZE_GC=false turns it off).
    freeze_gc: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. Asia/Jakarta)") from exc
        return value

    @model_validator(mode="after")
    def _production_needs_keys(self) -> Settings:
        if self.environment == "production" and not self.api_keys:
            raise ValueError("KEMALA_API_KEYS must be set in production (no default key)")
        return self

    def key_values(self) -> set[str]:
        return {k.get_secret_value() for k in self.api_keys}

    def sla_targets(self) -> dict[str, float | None]:
        """Response-time target in hours per urgency id (None where there is none)."""
        return {
            "darurat": self.sla_darurat_hours,
            "tinggi": self.sla_tinggi_hours,
            "sedang": self.sla_sedang_hours,
            "rendah": self.sla_rendah_hours,
        }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (tests pass their own to ``create_app``)."""
    return Settings()
