"""Region detection: canonical names from aliases, and None rather than a guess."""

from __future__ import annotations

import pytest

from training.regions import CANONICAL_REGIONS, detect_region


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jalan rusak di Kaligawe parah", "Kota Semarang"),
        ("banjir lagi di semarang", "Kota Semarang"),
        ("Kab. Semarang banjir", "Kabupaten Semarang"),
        ("kabupaten semarang", "Kabupaten Semarang"),
        ("pemkab Tegal lambat", "Kabupaten Tegal"),
        ("Kota Tegal macet", "Kota Tegal"),
        ("purwokerto hujan deres", "Kabupaten Banyumas"),
        ("di kota solo", "Kota Surakarta"),
        ("Banjir di Batang", "Kabupaten Batang"),
        ("area Solo Baru", "Kabupaten Sukoharjo"),
        # The leftmost place wins, however long the other name is.
        ("dari Blora harus ke Semarang tiap minggu", "Kabupaten Blora"),
        ("bus rem blong di turunan Bawen arah Semarang", "Kabupaten Semarang"),
        # Route ends are ignored, other places still count.
        ("bis Solo-Sragen ngetem suwe neng Palur", "Kabupaten Karanganyar"),
    ],
)
def test_detects_named_places(text: str, expected: str) -> None:
    assert detect_region(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "smg cepet sembuh ya",  # "semoga", not Semarang
        "ngurus PBG ruwet banget",  # building permit, not Purbalingga
        "SLO listrik belum keluar",  # electrical certificate, not Solo
        "PKL kota makin semrawut",  # street vendors, not Pekalongan
        "korban masih di bawah batang pohon",
        "pendaki solo hilang di gunung",
        "Bengawan Solo meluap",  # a river through six regions
        "jalur Brebes-Tegal rusak",  # a route names no single region
        "hujan lebat di Cilacap, Banyumas, Kebumen",  # a list names no single region
        "Dieng dingin banget",  # the plateau spans Banjarnegara and Wonosobo
        "Pekalongan banjir",  # city or regency: ambiguous
        "#Semarang @pemkotsemarang",  # hashtags and handles are accounts, not places
        "jalan di depan rumah rusak",
    ],
)
def test_none_rather_than_a_guess(text: str) -> None:
    assert detect_region(text) is None


def test_every_region_is_reachable_by_its_canonical_name() -> None:
    assert len(CANONICAL_REGIONS) == 35
    for name in CANONICAL_REGIONS:
        assert detect_region(f"laporan dari {name}") == name
