"""Ingest into the unlabelled pool: API v2 pages and CSV exports, retweets, duplicates, re-runs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from training.labelling.ingest import (
    Columns,
    InputFormat,
    detect_format,
    ingest,
    read_inputs,
    resolve_retweet_prefixes,
)
from training.labelling.pool import RawTweet, add_tweets, count, get, open_pool, representatives, to_utc_iso

JAVANESE_WORDS = {"neng", "wis", "dalan", "ora", "nuwun"}


class KeywordLangId:
    """A deterministic stand-in for the trained identifier, so language counts are exact."""

    def predict(self, texts):
        return ["jv" if JAVANESE_WORDS & set(t.lower().replace(",", " ").split()) else "id" for t in texts]


LAMPU = "Lampu PJU mati sebulan di jalan Pemuda, gelap banget kalau malam, rawan begal. Mohon segera diganti"
KALIGAWE = "Jalan rusak parah di Kaligawe, lubang gede banget, motor pada jatuh. Tolong @dpu_jateng segera diperbaiki"
BANJIR = "Banjir di Sayung Demak air sudah sepinggang, warga butuh perahu evakuasi sekarang juga, tolong!"
PAGE_1 = {
    "data": [
        {"id": "1001", "text": KALIGAWE, "created_at": "2026-11-01T08:00:00.000Z", "author_id": "u1", "lang": "in"},
        {
            "id": "1002",
            "text": "RT @bpbd_demak: Banjir di Sayung Demak air sudah sepinggang, warga butuh perahu…",
            "created_at": "2026-11-01T09:00:00.000Z",
            "author_id": "u2",
            "lang": "in",
            "referenced_tweets": [{"type": "retweeted", "id": "900"}],
        },
        {
            "id": "1003",
            "text": "RT @warga_solo: PDAM mati telung dina neng Jebres, ora iso adus…",
            "created_at": "2026-11-01T10:00:00.000Z",
            "author_id": "u3",
            "lang": "in",
        },
        {
            "id": "1004",
            "text": LAMPU + " https://t.co/aaa111",
            "created_at": "2026-11-01T11:00:00.000Z",
            "author_id": "u4",
            "lang": "in",
        },
    ],
    "includes": {
        "users": [
            {"id": "u1", "username": "warga1"},
            {"id": "u2", "username": "retweeter2"},
            {"id": "u3", "username": "retweeter3"},
            {"id": "u4", "username": "warga4"},
            {"id": "u9", "username": "bpbd_demak"},
        ],
        "tweets": [
            {
                "id": "900",
                "text": BANJIR,
                "created_at": "2026-10-31T23:00:00.000Z",
                "author_id": "u9",
            }
        ],
    },
    "meta": {"result_count": 4, "newest_id": "1004", "oldest_id": "1001", "next_token": "p2"},
}
PAGE_2 = {
    "data": [
        PAGE_1["data"][0],  # the same tweet again: an exact duplicate id across pages
        {
            "id": "1006",
            "text": "PDAM mati telung dina neng Jebres, ora iso adus, ora iso masak. Tulung @pdam_solo",
            "created_at": "2026-10-31T20:00:00.000Z",
            "author_id": "u6",
            "lang": "jv",
        },
        {
            "id": "1005",
            "text": LAMPU + "!! https://t.co/bbb222",  # near-duplicate of 1004
            "created_at": "2026-11-01T12:00:00.000Z",
            "author_id": "u5",
            "lang": "in",
        },
        {
            "id": "1007",
            "text": "Matur nuwun pak, dalan neng Klaten wis didandani, saiki alus",
            "created_at": "2026-11-02T07:00:00.000Z",
            "author_id": "u7",
            "lang": "jv",
        },
    ],
    "includes": {
        "users": [
            {"id": "u1", "username": "warga1"},
            {"id": "u5", "username": "warga5"},
            {"id": "u6", "username": "warga_solo"},
            {"id": "u7", "username": "warga7"},
        ]
    },
    "meta": {"result_count": 4, "newest_id": "1007", "oldest_id": "1001"},
}
CSV_ROWS = [
    {
        "id_str": "c1",
        "tweet": "Sampah numpuk di TPS pasar Kudus wis seminggu, mambu banget",
        "posted": "",
        "user": "w8",
    },
    {"id_str": "1007", "tweet": PAGE_2["data"][3]["text"], "posted": "2026-11-02 07:00:00", "user": "warga7"},
    {"id_str": "c3", "tweet": "", "posted": "", "user": "w9"},  # no text: skipped
]
CSV_COLUMNS = Columns(id="id_str", text="tweet", time="posted", author="user")


@pytest.fixture
def raw_inputs(tmp_path: Path) -> dict[str, Path]:
    """An API v2 search (a folder of two page files) and a CSV export, written to tmp_path."""
    pages = tmp_path / "inbox" / "search-2026-11-02"
    pages.mkdir(parents=True)
    (pages / "page-001.json").write_text(json.dumps(PAGE_1, ensure_ascii=False, indent=1), encoding="utf-8")
    (pages / "page-002.json").write_text(json.dumps(PAGE_2, ensure_ascii=False), encoding="utf-8")
    export = tmp_path / "inbox" / "export.csv"
    with export.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(CSV_ROWS[0]))
        writer.writeheader()
        writer.writerows(CSV_ROWS)
    return {"pages": pages, "csv": export}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _ingest(raw_inputs: dict[str, Path], pool: Path, fmt: str = "auto", **kw):
    # The CSV needs its column names; the API folder is read with the same call per format.
    api = ingest([raw_inputs["pages"]], pool=pool, fmt=fmt, lang_identifier=KeywordLangId(), **kw)
    table = ingest([raw_inputs["csv"]], pool=pool, columns=CSV_COLUMNS, lang_identifier=KeywordLangId(), **kw)
    return api, table


def test_first_ingest_counts_everything(raw_inputs: dict[str, Path], tmp_path: Path) -> None:
    pool = tmp_path / "pool.sqlite"
    api, table = _ingest(raw_inputs, pool)
    a = api.to_dict()
    assert a["files"] == 2
    assert a["read"] == 8
    assert a["skipped"] == 0
    assert a["retweets_resolved"] == 2  # 1002 by referenced_tweets, 1003 by its "RT @warga_solo:" prefix
    # 1001 twice, and the RT 1003 resolved to the original 1006 that page 2 holds.
    assert a["duplicate_ids"] == 2
    assert a["new"] == 6  # 1001, 900, 1006, 1004, 1005, 1007
    assert a["representatives"] == 5
    assert a["near_duplicates"] == 1
    assert a["near_duplicate_groups"] == 1
    assert a["per_language"] == {"id": 4, "jv": 2}
    assert a["with_region"] == 4  # Kaligawe, Sayung Demak, Jebres, Klaten; "jalan Pemuda" names no region

    t = table.to_dict()
    assert (t["files"], t["read"], t["skipped"], t["retweets_resolved"]) == (1, 3, 1, 0)
    assert (t["duplicate_ids"], t["new"], t["near_duplicate_groups"]) == (1, 1, 0)  # 1007 was in the API pages
    assert t["per_language"] == {"jv": 1}
    assert t["pool"] == {
        "total": 7,
        "representatives": 6,
        "near_duplicates": 1,
        "with_region": 5,
        "by_lang": {"id": 4, "jv": 3},
        "by_lang_representatives": {"id": 3, "jv": 3},
    }


def test_pool_rows_hold_originals_groups_and_metadata(raw_inputs: dict[str, Path], tmp_path: Path) -> None:
    pool = tmp_path / "pool.sqlite"
    _ingest(raw_inputs, pool)
    conn = open_pool(pool)
    rows = {t.tweet_id: t for t in get(conn, ["900", "1006", "1004", "1005", "1001", "c1", "missing"])}
    assert set(rows) == {"900", "1006", "1004", "1005", "1001", "c1"}
    # The retweet by referenced_tweets became the original from includes.tweets, full text and author.
    assert rows["900"].text.endswith("sekarang juga, tolong!")
    assert rows["900"].author == "bpbd_demak"
    assert rows["900"].created_at == "2026-10-31T23:00:00Z"
    assert rows["900"].region == "Kabupaten Demak"
    assert rows["1006"].author == "warga_solo" and rows["1006"].region == "Kota Surakarta"
    assert "RT @" not in rows["1006"].text
    # 1004 and 1005 differ only in "!!" and the link: one group, the earlier tweet represents it.
    assert rows["1004"].group_id == rows["1005"].group_id == "1004"
    assert rows["1004"].is_representative and not rows["1005"].is_representative
    assert rows["1001"].norm_text.startswith("jalan rusak parah di kaligawe") and "@user" in rows["1001"].norm_text
    assert rows["1001"].region == "Kota Semarang"
    assert rows["1001"].source.endswith("page-001.json")
    assert rows["c1"].created_at is None and rows["c1"].author == "w8" and rows["c1"].source.endswith("export.csv")
    assert all(r.lang in {"id", "jv", "campur"} for r in rows.values())
    # Representatives: by time, unknown time last; exclude_ids leaves out what is labelled already.
    order = [t.tweet_id for t in representatives(conn)]
    assert order == ["1006", "900", "1001", "1004", "1007", "c1"]
    assert [t.tweet_id for t in representatives(conn, exclude_ids={"900", "c1"})] == ["1006", "1001", "1004", "1007"]
    assert [t.tweet_id for t in get(conn, ["1007", "1001"])] == ["1007", "1001"]
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"
    conn.close()


def test_reingest_adds_nothing_and_raw_files_stay_unchanged(raw_inputs: dict[str, Path], tmp_path: Path) -> None:
    before = _snapshot(tmp_path / "inbox")
    pool = tmp_path / "pool.sqlite"
    _ingest(raw_inputs, pool)
    api, table = _ingest(raw_inputs, pool)
    assert api.pool_stats.new == 0 and table.pool_stats.new == 0
    assert api.pool_stats.duplicate_ids == 8  # every tweet read (RTs resolved to their originals)
    assert table.pool_stats.duplicate_ids == 2
    assert api.retweets_resolved == 2
    assert table.pool["total"] == 7 and table.pool["representatives"] == 6
    assert _snapshot(tmp_path / "inbox") == before


def test_copy_raw_keeps_identical_copies_once(raw_inputs: dict[str, Path], tmp_path: Path) -> None:
    before = _snapshot(tmp_path / "inbox")
    raw = tmp_path / "raw"
    pool = tmp_path / "pool.sqlite"
    api, table = _ingest(raw_inputs, pool, copy_raw=True, raw_dir=raw)
    assert len(api.copied) == 2 and len(table.copied) == 1
    assert _snapshot(raw) == {
        "search-2026-11-02/page-001.json": before["search-2026-11-02/page-001.json"],
        "search-2026-11-02/page-002.json": before["search-2026-11-02/page-002.json"],
        "export.csv": before["export.csv"],
    }
    conn = open_pool(pool)
    assert get(conn, ["1001"])[0].source.endswith("raw/search-2026-11-02/page-001.json")
    conn.close()
    _ingest(raw_inputs, pool, copy_raw=True, raw_dir=raw)  # identical copies are reused, not duplicated
    assert len(_snapshot(raw)) == 3
    assert _snapshot(tmp_path / "inbox") == before


def test_near_duplicate_of_a_pooled_tweet_joins_its_group(raw_inputs: dict[str, Path], tmp_path: Path) -> None:
    pool = tmp_path / "pool.sqlite"
    _ingest(raw_inputs, pool)
    later = tmp_path / "later.jsonl"
    rows = [
        {"id": "2001", "text": LAMPU + " 🙏 https://t.co/ccc333", "created_at": "2026-11-03T00:00:00Z"},
        # A bare RT of a pooled tweet, cut short: found in the pool by author and text.
        {"id": "2002", "text": "RT @warga1: " + KALIGAWE[:60] + "…", "created_at": "2026-11-03T01:00:00Z"},
        {"id": "2003", "text": "RT @someone_else: Pasar Johar becek banget", "created_at": "2026-11-03T02:00:00Z"},
    ]
    later.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    report = ingest([later], pool=pool, lang_identifier=KeywordLangId()).to_dict()
    assert (report["read"], report["retweets_resolved"], report["duplicate_ids"]) == (3, 2, 1)
    assert (report["new"], report["representatives"], report["near_duplicates"]) == (2, 1, 1)
    conn = open_pool(pool)
    new, kept_rt = get(conn, ["2001", "2003"])
    assert new.group_id == "1004" and not new.is_representative
    # The RT whose original is nowhere keeps its own id, its text without the prefix, the original author.
    assert (kept_rt.text, kept_rt.author, kept_rt.is_representative) == (
        "Pasar Johar becek banget",
        "someone_else",
        True,
    )
    assert count(conn)["total"] == 9
    conn.close()


def test_add_tweets_api_directly(tmp_path: Path) -> None:
    conn = open_pool(tmp_path / "p.sqlite")
    tweets = [
        RawTweet("a", "Listrik padam dari pagi di Sragen", "2026-11-01T00:00:00+07:00", "x", "test"),
        RawTweet("a", "Listrik padam dari pagi di Sragen, PLN mana?", None, "x", "test"),  # same id, longer text
        RawTweet("b", "Dalan ajur neng Blora", None, None, "test"),
    ]
    stats = add_tweets(conn, tweets, KeywordLangId())
    assert (stats.received, stats.new, stats.duplicate_ids, stats.representatives) == (3, 2, 1, 2)
    a, b = get(conn, ["a", "b"])
    assert a.text.endswith("PLN mana?")  # the longer copy of a repeated id wins
    assert (a.region, b.region, b.lang) == ("Kabupaten Sragen", "Kabupaten Blora", "jv")
    assert add_tweets(conn, tweets, KeywordLangId()).new == 0
    conn.close()


def test_add_tweets_is_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training.labelling import pool

    conn = open_pool(tmp_path / "p.sqlite")
    tweets = [RawTweet("a", "Listrik padam dari pagi di Sragen"), RawTweet("b", "Dalan ajur neng Blora")]

    def crash(*args, **kwargs):
        raise RuntimeError("killed mid-ingest")

    monkeypatch.setattr(pool, "_assign_groups", crash)
    with pytest.raises(RuntimeError):
        add_tweets(conn, tweets, KeywordLangId())
    monkeypatch.undo()
    assert count(conn)["total"] == 0
    assert add_tweets(conn, tweets, KeywordLangId()).new == 2  # the connection is usable again
    conn.close()


def test_read_inputs_detects_formats_and_columns(raw_inputs: dict[str, Path], tmp_path: Path) -> None:
    assert detect_format(raw_inputs["pages"] / "page-001.json") is InputFormat.twitter
    assert detect_format(raw_inputs["csv"]) is InputFormat.csv
    pages_jsonl = tmp_path / "pages.jsonl"
    pages_jsonl.write_text(json.dumps(PAGE_1) + "\n" + json.dumps(PAGE_2) + "\n", encoding="utf-8")
    assert detect_format(pages_jsonl) is InputFormat.twitter
    result = read_inputs([pages_jsonl])
    assert (result.read, result.retweets_resolved, len(result.tweets)) == (8, 1, 8)
    # Unnamed columns: the usual export names are tried (id_str, tweet, user; "posted" is not one).
    result = read_inputs([raw_inputs["csv"]])
    assert [(t.tweet_id, t.created_at, t.author) for t in result.tweets] == [
        ("c1", None, "w8"),
        ("1007", None, "warga7"),
    ]
    with pytest.raises(ValueError, match="no text column 'body'"):
        read_inputs([raw_inputs["csv"]], columns=Columns(id="id_str", text="body"))
    odd = tmp_path / "odd.csv"
    odd.write_text("num,body\n1,jalan rusak\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no id column"):
        read_inputs([odd])
    assert [t.text for t in read_inputs([odd], columns=Columns(id="num", text="body")).tweets] == ["jalan rusak"]


def test_resolve_retweet_prefixes_in_batch() -> None:
    original = RawTweet(
        "1", "Bus Trans Jateng mogok lagi di Bawen, penumpang turun semua https://t.co/x", None, "@brt", "s"
    )
    rt = RawTweet("2", "RT @BRT: Bus Trans Jateng mogok lagi di Bawen, penumpang…", "2026-11-01T00:00:00Z", "y", "s")
    out, n = resolve_retweet_prefixes([rt, original])
    assert n == 1
    assert out[0].tweet_id == "1" and out[0].text == original.text and out[0].author == "@brt"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-01T08:00:00.000Z", "2026-11-01T08:00:00Z"),
        ("2026-11-01 15:00:00+07:00", "2026-11-01T08:00:00Z"),
        ("2026-11-01 08:00:00", "2026-11-01T08:00:00Z"),
        ("Sun Nov 01 08:00:00 +0000 2026", "2026-11-01T08:00:00Z"),
        ("1793520000", "2026-11-01T08:00:00Z"),
        ("1793520000000", "2026-11-01T08:00:00Z"),
        ("", None),
        ("kemarin sore", None),
        (None, None),
    ],
)
def test_to_utc_iso(raw: str | None, expected: str | None) -> None:
    assert to_utc_iso(raw) == expected


def test_ingest_command_prints_counts(raw_inputs: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    import typer
    from typer.testing import CliRunner

    from training.labelling import cli_ingest

    # add_tweets' default identifier, without training one: the CLI passes none.
    monkeypatch.setattr("training.labelling.langid.load_or_train", lambda *a, **k: KeywordLangId())
    app = typer.Typer()
    app.command()(cli_ingest.ingest_command)
    db = tmp_path / "cli.sqlite"
    args = [str(raw_inputs["csv"]), "--pool", str(db), "--format", "csv", "--id-col", "id_str", "--text-col", "tweet"]
    result = CliRunner().invoke(app, [*args, "--time-col", "posted", "--author-col", "user"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["read"], out["new"], out["skipped"], out["pool"]["total"]) == (3, 2, 1, 2)
    bad = CliRunner().invoke(app, [str(raw_inputs["csv"]), "--pool", str(db), "--text-col", "nope"])
    assert bad.exit_code == 1
