"""Central Java's 35 regencies and cities, with the spellings people tweet.

Region is metadata, never a label the models predict; unknown stays ``None``.
The guidelines say "never guess", so the detector prefers ``None`` to a doubtful
answer: aliases that are also common words match only when capitalised, routes
("Semarang-Kendal") and lists of three or more regions name no single place.
No torch import: the serving app uses this too.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Canonical names (6 cities, 29 regencies) -> informal spellings and well-known towns, districts and
# landmarks inside them. "Kabupaten X" / "Kab. X" / "Pemkab X" and "Kota X" / "Pemkot X" are generated
# from the canonical name, so they are not repeated here. Names shared by two regions (Dieng spans
# Banjarnegara and Wonosobo; "Tegal", "Pekalongan", "Magelang" are both a city and a regency) are left
# out on purpose: the guidelines want null rather than a guess.
REGIONS: dict[str, tuple[str, ...]] = {
    "Kota Semarang": (
        "semarang",
        "kota lumpia",
        "tembalang",
        "banyumanik",
        "simpang lima",
        "kaligawe",
        "pedurungan",
        "ngaliyan",
        "tlogosari",
        "genuk",
        "mijen",
        "gunungpati",
        "jatingaleh",
        "kedungmundu",
        "tambaklorok",
        "bandarharjo",
        "mangkang",
        "kalibanteng",
        "tugu muda",
        "lawang sewu",
        "tugurejo",
        "wongsonegoro",
    ),
    "Kota Surakarta": (
        "surakarta",
        "solo",
        "kota solo",
        "pemkot solo",
        "tirtonadi",
        "klewer",
        "jebres",
        "laweyan",
        "moewardi",
    ),
    "Kota Magelang": ("mgl",),
    "Kota Salatiga": ("salatiga", "sltg"),
    "Kota Pekalongan": ("pekalongan utara", "pekalongan selatan", "pekalongan barat", "pekalongan timur"),
    "Kota Tegal": ("tegal barat", "tegal timur", "tegal selatan", "kardinah"),
    "Kabupaten Semarang": ("kab smg", "ungaran", "ambarawa", "bandungan", "bawen", "kopeng", "getasan"),
    "Kabupaten Magelang": ("muntilan", "mungkid", "borobudur", "secang", "grabag"),
    "Kabupaten Pekalongan": ("kajen", "wiradesa"),
    "Kabupaten Tegal": ("slawi", "guci", "mejasem"),
    "Kabupaten Banyumas": (
        "banyumas",
        "purwokerto",
        "pwt",
        "baturraden",
        "ajibarang",
        "sokaraja",
        "karanglewas",
        "kebasen",
        "sumpiuh",
        "margono",
    ),
    "Kabupaten Cilacap": ("cilacap", "clp", "majenang", "kroya", "sidareja", "kampung laut"),
    "Kabupaten Purbalingga": ("purbalingga", "bobotsari", "kutasari"),
    "Kabupaten Banjarnegara": ("banjarnegara", "bna", "karangkobar"),
    "Kabupaten Kebumen": ("kebumen", "gombong", "karangsambung"),
    "Kabupaten Purworejo": ("purworejo", "kutoarjo"),
    "Kabupaten Wonosobo": ("wonosobo", "wsb", "kertek", "kejajar"),
    "Kabupaten Boyolali": ("boyolali", "byl"),
    "Kabupaten Klaten": ("klaten", "delanggu", "manisrenggo"),
    "Kabupaten Sukoharjo": ("sukoharjo", "skh", "kartasura", "grogol", "solo baru"),
    "Kabupaten Wonogiri": ("wonogiri", "wng", "baturetno"),
    "Kabupaten Karanganyar": ("karanganyar", "tawangmangu", "palur"),
    "Kabupaten Sragen": ("sragen", "gemolong", "masaran", "kalijambe"),
    "Kabupaten Grobogan": ("grobogan", "purwodadi", "godong", "toroh", "kedungjati"),
    "Kabupaten Blora": ("blora", "cepu"),
    "Kabupaten Rembang": ("rembang", "lasem"),
    "Kabupaten Pati": ("pati", "juwana"),
    "Kabupaten Kudus": ("kudus", "undaan"),
    "Kabupaten Jepara": ("jepara", "karimunjawa", "pecangaan", "kalinyamatan"),
    "Kabupaten Demak": ("demak", "sayung", "mranggen", "karangawen"),
    "Kabupaten Temanggung": ("temanggung", "parakan", "kledung"),
    "Kabupaten Kendal": ("kendal", "weleri", "kaliwungu", "patebon"),
    "Kabupaten Batang": ("batang", "subah", "blado"),
    "Kabupaten Pemalang": ("pemalang", "comal"),
    "Kabupaten Brebes": ("brebes", "bumiayu", "ketanggungan"),
}
CANONICAL_REGIONS = tuple(REGIONS)

# Names that contain an alias but are no place in one region: the river flows through six of them.
NOT_PLACES = ("bengawan solo",)
# Aliases that are also everyday words ("batang pohon", "pendaki solo", "tepung pati", "roh kudus"):
# they name the place only when capitalised ("Batang", "BATANG").
CAPITALISED_ONLY = frozenset({"batang", "solo", "pati", "kudus", "guci"})
# A list of this many distinct regions ("Cilacap, Banyumas, Kebumen") names no single place.
MAX_DISTINCT_REGIONS = 2

_ROUTE_DASH = r"\s*[-–—]\s*"
# A capitalised word joined by a dash: the other end of a route ("Brebes-Tegal", "Sayung - Kaligawe").
_ROUTE_AFTER = re.compile(_ROUTE_DASH + r"[A-Z]\w+")
_ROUTE_BEFORE = re.compile(r"[A-Z]\w+" + _ROUTE_DASH + r"$")


def _alias_regex(alias: str) -> str:
    return r"\s+".join(re.escape(word) for word in alias.split())


def _official_forms(name: str) -> list[tuple[str, str]]:
    """``Kabupaten X`` -> kabupaten/kab./pemkab X; ``Kota X`` -> kota/pemkot X, as (first word, regex)."""
    kind, _, place = name.partition(" ")
    body = _alias_regex(place.lower())
    if kind == "Kabupaten":
        return [("kabupaten", rf"kabupaten\s+{body}"), ("kab", rf"kab\.?\s*{body}"), ("pemkab", rf"pemkab\s*{body}")]
    return [("kota", rf"kota\s+{body}"), ("pemkot", rf"pemkot\s*{body}")]


@lru_cache(maxsize=1)
def _index() -> dict[str, list[tuple[re.Pattern[str], str | None]]]:
    """Alias patterns by their first word (lower-cased), longest alias first within a word.

    Trying only the aliases that start with a word of the text, rather than every alias at every
    position, keeps detection at tens of microseconds a tweet, which matters at ingest.
    """
    # (first word, length of the name it spells, regex, flags, region)
    entries: list[tuple[str, int, str, int, str | None]] = []
    entries.extend((p.split()[0], len(p), _alias_regex(p), re.IGNORECASE, None) for p in NOT_PLACES)
    for name, aliases in REGIONS.items():
        entries.extend((word, len(name), regex, re.IGNORECASE, name) for word, regex in _official_forms(name))
        for alias in aliases:
            body = _alias_regex(alias)
            if alias in CAPITALISED_ONLY:
                entries.append((alias.split()[0], len(alias), f"(?:{body.capitalize()}|{body.upper()})", 0, name))
            else:
                entries.append((alias.split()[0], len(alias), body, re.IGNORECASE, name))
    index: dict[str, list[tuple[re.Pattern[str], str | None]]] = {}
    for word, _, regex, flags, name in sorted(entries, key=lambda e: -e[1]):
        index.setdefault(word, []).append((re.compile(rf"{regex}(?!\w)", flags), name))
    return index


# Where an alias may start: a word not inside another word, a hashtag or an @handle
# (those name accounts, not places).
_WORD_START = re.compile(r"(?<![\w@#])\w+")


def _matches(text: str) -> list[tuple[int, int, str | None]]:
    """Non-overlapping ``(start, end, region)`` matches, left to right; the longest wins an overlap.

    A ``NOT_PLACES`` match has region ``None``: it only stops its words counting as a place.
    """
    index = _index()
    kept: list[tuple[int, int, str | None]] = []
    for word in _WORD_START.finditer(text):
        if kept and word.start() < kept[-1][1]:
            continue
        for pattern, name in index.get(word.group().lower(), ()):
            match = pattern.match(text, word.start())
            if match:
                kept.append((match.start(), match.end(), name))
                break
    return kept


def _is_route_end(text: str, start: int, end: int) -> bool:
    return bool(_ROUTE_AFTER.match(text, end) or _ROUTE_BEFORE.search(text[max(0, start - 60) : start]))


def detect_region(text: str) -> str | None:
    """Return the canonical region a text names, or ``None`` when it names none.

    The leftmost place named wins (a longer alias wins where two overlap, so
    "Kabupaten Semarang" beats "Semarang"). Hashtags and @handles are ignored
    because they name accounts; the ends of a route ("Semarang-Kendal") are
    ignored because a route locates no single region; and a text naming more
    than two distinct regions is a list, so it gets ``None``.
    """
    regions: list[str] = []
    for start, end, name in _matches(text):
        if name is not None and name not in regions and not _is_route_end(text, start, end):
            regions.append(name)
    if not regions or len(regions) > MAX_DISTINCT_REGIONS:
        return None
    return regions[0]
