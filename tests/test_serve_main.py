"""`kemala serve` helpers: the local key, the banner, and ensuring champions exist."""

import pytest

from serving import main
from serving.settings import Settings


def test_local_key_is_generated_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.setattr(main, "LOCAL_KEY_FILE", tmp_path / "key")
    settings = main.with_api_key(Settings(api_keys=[]))
    key = next(iter(settings.key_values()))
    assert len(key) > 20 and (tmp_path / "key").read_text().strip() == key
    assert next(iter(main.with_api_key(Settings(api_keys=[])).key_values())) == key
    assert main.with_api_key(Settings(api_keys=["mine"])).key_values() == {"mine"}


def test_banner_has_url_docs_key_and_curl(tmp_path):
    text = main.banner(Settings(host="127.0.0.1", port=8123), "k123")
    assert (
        "http://127.0.0.1:8123/docs" in text
        and "k123" in text
        and "curl -s -X POST http://127.0.0.1:8123/v1/route" in text
    )


def test_ensure_champions_uses_existing_exports(tmp_path):
    for task in ("topic", "urgency"):
        (tmp_path / task).mkdir()
    assert main.ensure_champions(Settings(models_dir=tmp_path), tmp_path).startswith("using exported models")


@pytest.mark.slow
def test_ensure_champions_trains_when_there_are_none(tmp_path, tracking_uri, monkeypatch):
    import training.pipeline

    calls = []
    monkeypatch.setattr(training.pipeline, "run_pipeline", lambda *a, **k: calls.append(a) or _Described())
    out = main.ensure_champions(Settings(models_dir=tmp_path / "models", tracking_uri=tracking_uri), tmp_path)
    assert out.startswith("trained") and calls and calls[0][0] == ["topic", "urgency", "lang"]


class _Described:
    def describe(self):
        return "ok"
