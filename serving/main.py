"""``kemala serve``: make sure champions exist (train them if not), then run the API with uvicorn."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from serving.settings import Settings
from training.taxonomy import REPO_ROOT

logger = logging.getLogger(__name__)
LOCAL_KEY_FILE = REPO_ROOT / "data" / "serving" / "local-api-key"


def ensure_champions(settings: Settings, report_dir: Path) -> str:
    """Export the registry's champions, or train them first when there are none. Returns what was done."""
    from training.export import ROUTING_TASKS, export_champions
    from training.tracking import CHAMPION, alias_version, configure

    if settings.model_source == "export" and all((settings.models_dir / t).is_dir() for t in ROUTING_TASKS):
        return f"using exported models in {settings.models_dir}"
    configure(settings.tracking_uri)
    if all(alias_version(f"kemala-{t}", CHAMPION) for t in ROUTING_TASKS):
        tasks = (*ROUTING_TASKS, "lang") if alias_version("kemala-lang", CHAMPION) else ROUTING_TASKS
        export_champions(settings.models_dir, tasks, settings.tracking_uri)
        return f"exported the registry's champions to {settings.models_dir}"
    from training.pipeline import run_pipeline

    result = run_pipeline(["topic", "urgency", "lang"], [], report_dir, settings.tracking_uri, settings.models_dir)
    logger.info("\n%s", result.describe())
    return "trained, promoted and exported new champions"


def local_api_key() -> str:
    """A stable key for local use, generated once and kept in a git-ignored file."""
    if LOCAL_KEY_FILE.exists():
        return LOCAL_KEY_FILE.read_text().strip()
    LOCAL_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(24)
    LOCAL_KEY_FILE.write_text(key + "\n")
    LOCAL_KEY_FILE.chmod(0o600)
    return key


def with_api_key(settings: Settings) -> Settings:
    """Settings that hold at least one API key: the configured ones, else the stable local key."""
    if settings.api_keys:
        return settings
    if settings.environment == "production":
        raise SystemExit("KEMALA_API_KEYS must be set in production")
    # Validated again (not model_copy) so the key becomes a SecretStr like configured ones.
    return Settings.model_validate(settings.model_dump() | {"api_keys": [local_api_key()]})


def banner(settings: Settings, key: str) -> str:
    base = f"http://{settings.host}:{settings.port}"
    example = (
        f"curl -s -X POST {base}/v1/route -H 'X-API-Key: {key}' -H 'Content-Type: application/json' "
        """-d '{"text": "Banyu PDAM mati wis telung dina #KemalaJateng", "id": "demo-1"}'"""
    )
    return "\n".join(
        [
            "Kemala routing API",
            f"  URL:      {base}",
            f"  docs:     {base}/docs",
            f"  API key:  {key}",
            f"  try it:   {example}",
        ]
    )


def serve(settings: Settings, report_dir: Path, ensure: bool = True) -> None:
    """Ensure models, print how to call the API, then serve until interrupted."""
    import uvicorn

    from serving.app import create_app

    if ensure:
        logger.info(ensure_champions(settings, report_dir))
    settings = with_api_key(settings)
    key = next(iter(settings.key_values()))
    print(banner(settings, key), flush=True)  # noqa: T201 - the CLI's own output
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
