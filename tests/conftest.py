"""Shared fixtures: a tiny label store, a fast config, MLflow under tmp_path, a tiny HF model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.config import TrainConfig, load_config
from training.labels import LabelRow, write_labels
from training.splits import write_splits

# Tiny, hand-written rows (test fixture only): 4 topics x 6 rows, mixed languages.
TINY_ROWS = [
    ("jalan rusak parah banyak lubang", "infrastruktur", "sedang", "id"),
    ("dalan bolong kabeh ra tau didandani", "infrastruktur", "sedang", "jv"),
    ("lampu pju mati sebulan gelap", "infrastruktur", "sedang", "id"),
    ("jembatan retak truk tetap lewat", "infrastruktur", "tinggi", "id"),
    ("aspal ngelupas dalane ajur", "infrastruktur", "sedang", "jv"),
    ("jalan berlubang bikin jatuh motor", "infrastruktur", "tinggi", "campur"),
    ("banjir masuk rumah air naik terus tolong", "bencana", "darurat", "id"),
    ("banyu wis mlebu omah tulung", "bencana", "darurat", "jv"),
    ("longsor menimbun rumah warga sekarang", "bencana", "darurat", "id"),
    ("pohon tumbang nutup dalan saiki", "bencana", "darurat", "jv"),
    ("rob makin tinggi warga mengungsi", "bencana", "tinggi", "id"),
    ("banjir lagi air sepinggang tolong evakuasi", "bencana", "darurat", "campur"),
    ("listrik padam dari pagi pln", "utilitas", "sedang", "id"),
    ("pdam mati telung dina ora iso adus", "utilitas", "tinggi", "jv"),
    ("sinyal ilang total ga bisa kerja", "utilitas", "sedang", "id"),
    ("lpg 3 kg langka seminggu", "utilitas", "tinggi", "id"),
    ("listrik mati maneh pln piye", "utilitas", "sedang", "jv"),
    ("air pdam keruh bau kaporit", "utilitas", "sedang", "campur"),
    ("terima kasih pak gubernur", "lainnya", "rendah", "id"),
    ("matur nuwun sanget bapak", "lainnya", "rendah", "jv"),
    ("selamat pagi warga jateng", "lainnya", "rendah", "id"),
    ("promo diskon besar hari ini", "lainnya", "rendah", "id"),
    ("sugeng enjang sedaya", "lainnya", "rendah", "jv"),
    ("mantap pelayanan makasih ya", "lainnya", "rendah", "campur"),
]


def make_rows(rows=TINY_ROWS, prefix: str = "t") -> list[LabelRow]:
    return [
        LabelRow(
            id=f"{prefix}{i:03d}",
            text=text,
            topic=topic,
            urgency=urgency,
            lang=lang,
            source="test-fixture",
            annotator="tester",
            labelled_at="2026-11-01T00:00:00Z",
        )
        for i, (text, topic, urgency, lang) in enumerate(rows)
    ]


@pytest.fixture
def label_store(tmp_path: Path) -> Path:
    """A valid label store: corpus/tiny.jsonl + splits.csv (4 train, 1 valid, 1 test per topic)."""
    store = tmp_path / "labels"
    rows = make_rows()
    write_labels(store / "corpus" / "tiny.jsonl", rows)
    assignment = {}
    for i, row in enumerate(rows):
        assignment[row.id] = {4: "valid", 5: "test"}.get(i % 6, "train")
    write_splits(store / "splits.csv", assignment)
    return store


@pytest.fixture
def tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """MLflow on SQLite under tmp_path; MLFLOW_TRACKING_URI points there too."""
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture
def fast_config(label_store: Path) -> TrainConfig:
    """A linear-family config that trains in well under a second."""
    return load_config(None, ["linear.calibration_cv=2", "linear.max_features=5000"], task="topic", data=label_store)


@pytest.fixture(scope="session")
def tiny_hf_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 2-layer BERT with a word-level tokenizer, built from a config (no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    words = sorted({w for text, *_ in TINY_ROWS for w in text.split()} | {"query:", "@user", "http"})
    vocab = {tok: i for i, tok in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        model_max_length=64,
    )
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    path = tmp_path_factory.mktemp("tiny-bert")
    BertModel(config).save_pretrained(path)
    fast.save_pretrained(path)
    return str(path)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
