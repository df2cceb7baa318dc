"""Text normalisation shared by every model family and saved with each model.

Serving calls exactly the same function with the same saved settings, so the
text a model sees in production cannot drift from what it was trained on. Also
repairs the artefacts of exported tweet datasets (masked user/URL tokens,
``\\xf0\\x9f..`` byte escapes, latin-1 mojibake, literal ``\\n``, HTML entities).
"""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass

import ftfy

USER_TOKEN = "@user"
URL_TOKEN = "http"

_BYTE_ESCAPES = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")
_LITERAL_NEWLINE = re.compile(r"\\[nrt]")
_URL = re.compile(r"(?:https?://|www\.)\S+|\b(?:HTTPURL|URL)\b|<url>", re.IGNORECASE)
_MENTION = re.compile(r"@\w+|\[USERNAME\]|\bUSER\b|<user>", re.IGNORECASE)
_RETWEET = re.compile(r"^\s*RT\s+@user:?\s*", re.IGNORECASE)
_REPEAT = re.compile(r"(\w)\1{2,}")
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class NormalizerConfig:
    """Which normalisation steps run. Saved beside every model (``normalizer.json``)."""

    lowercase: bool = True
    replace_urls: bool = True
    replace_mentions: bool = True
    strip_retweet_prefix: bool = True
    max_repeat: int = 2  # "parahhhh" -> "parahh"; 0 disables
    space_emoji: bool = True  # "banjir😭😭" -> "banjir 😭 😭" so word n-grams see emoji

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _decode_byte_escapes(match: re.Match[str]) -> str:
    raw = bytes(int(h, 16) for h in re.findall(r"\\x([0-9a-fA-F]{2})", match.group()))
    return raw.decode("utf-8", errors="replace")


def repair(text: str) -> str:
    """Undo dataset-export artefacts without changing meaning (always applied)."""
    text = _BYTE_ESCAPES.sub(_decode_byte_escapes, text)
    text = _LITERAL_NEWLINE.sub(" ", text)
    text = ftfy.fix_text(text)  # latin-1 mojibake, curly-quote damage, width forms
    return html.unescape(text)  # &amp; and friends that ftfy leaves alone


def normalize(text: str, config: NormalizerConfig | None = None) -> str:
    """Repair and normalise one tweet for the models."""
    cfg = config or NormalizerConfig()
    text = repair(text)
    if cfg.replace_urls:
        text = _URL.sub(f" {URL_TOKEN} ", text)
    if cfg.replace_mentions:
        text = _MENTION.sub(USER_TOKEN, text)
        if cfg.strip_retweet_prefix:
            text = _RETWEET.sub("", text)
    if cfg.max_repeat > 0:
        text = _REPEAT.sub(lambda m: m.group(1) * cfg.max_repeat, text)
    if cfg.space_emoji:
        text = _EMOJI.sub(lambda m: f" {m.group()} ", text)
    if cfg.lowercase:
        text = text.lower()
    return _SPACE.sub(" ", text).strip()


def normalize_many(texts: list[str], config: NormalizerConfig | None = None) -> list[str]:
    """Normalise a batch of texts with one config."""
    return [normalize(t, config) for t in texts]
