"""Central Java's 35 regencies and cities, with the spellings people tweet.

Region is metadata, never a label the models predict; unknown stays ``None``.
No torch import: the serving app uses this too.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Canonical names (6 cities, 29 regencies) -> informal spellings and well-known towns in them.
REGIONS: dict[str, tuple[str, ...]] = {
    "Kota Semarang": ("semarang", "smg", "kota lumpia", "tembalang", "banyumanik", "simpang lima"),
    "Kota Surakarta": ("surakarta", "solo", "kota solo", "slo"),
    "Kota Magelang": ("kota magelang", "mgl"),
    "Kota Salatiga": ("salatiga", "sltg"),
    "Kota Pekalongan": ("kota pekalongan", "pkl kota"),
    "Kota Tegal": ("kota tegal",),
    "Kabupaten Semarang": (
        "kabupaten semarang",
        "kab semarang",
        "ungaran",
        "ambarawa",
        "bandungan",
    ),
    "Kabupaten Magelang": (
        "kabupaten magelang",
        "kab magelang",
        "muntilan",
        "mungkid",
        "borobudur",
    ),
    "Kabupaten Pekalongan": ("kabupaten pekalongan", "kab pekalongan", "kajen", "wiradesa"),
    "Kabupaten Tegal": ("kabupaten tegal", "kab tegal", "slawi", "guci"),
    "Kabupaten Banyumas": ("banyumas", "purwokerto", "pwt", "baturraden", "ajibarang"),
    "Kabupaten Cilacap": ("cilacap", "clp", "majenang", "kroya"),
    "Kabupaten Purbalingga": ("purbalingga", "pbg"),
    "Kabupaten Banjarnegara": ("banjarnegara", "bna"),
    "Kabupaten Kebumen": ("kebumen", "gombong"),
    "Kabupaten Purworejo": ("purworejo", "kutoarjo"),
    "Kabupaten Wonosobo": ("wonosobo", "wsb", "dieng"),
    "Kabupaten Boyolali": ("boyolali", "byl"),
    "Kabupaten Klaten": ("klaten", "delanggu"),
    "Kabupaten Sukoharjo": ("sukoharjo", "skh", "kartasura", "grogol"),
    "Kabupaten Wonogiri": ("wonogiri", "wng"),
    "Kabupaten Karanganyar": ("karanganyar", "kra", "tawangmangu"),
    "Kabupaten Sragen": ("sragen",),
    "Kabupaten Grobogan": ("grobogan", "purwodadi"),
    "Kabupaten Blora": ("blora", "cepu"),
    "Kabupaten Rembang": ("rembang", "lasem"),
    "Kabupaten Pati": ("pati", "juwana"),
    "Kabupaten Kudus": ("kudus",),
    "Kabupaten Jepara": ("jepara", "karimunjawa"),
    "Kabupaten Demak": ("demak", "sayung"),
    "Kabupaten Temanggung": ("temanggung", "parakan"),
    "Kabupaten Kendal": ("kendal", "weleri", "kaliwungu"),
    "Kabupaten Batang": ("batang",),
    "Kabupaten Pemalang": ("pemalang", "comal"),
    "Kabupaten Brebes": ("brebes", "bumiayu"),
}
CANONICAL_REGIONS = tuple(REGIONS)


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    # Longest aliases first so "kabupaten semarang" wins over "semarang".
    pairs = [(alias, name) for name, aliases in REGIONS.items() for alias in aliases]
    pairs.sort(key=lambda p: -len(p[0]))
    return [(re.compile(rf"(?<![\w@#]){re.escape(a)}(?!\w)", re.IGNORECASE), n) for a, n in pairs]


def detect_region(text: str) -> str | None:
    """Return the canonical region a text names, or ``None`` when it names none.

    The first (longest, then leftmost) alias wins; hashtags and @handles are
    ignored because they name accounts, not places.
    """
    best: tuple[int, int, str] | None = None
    for pattern, name in _patterns():
        match = pattern.search(text)
        if match and (best is None or (-len(match.group()), match.start()) < best[:2]):
            best = (-len(match.group()), match.start(), name)
    return best[2] if best else None
