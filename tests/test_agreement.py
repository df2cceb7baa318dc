import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from training.labelling.agreement import agreement_report, field_agreement, render_markdown
from training.labelling.annotations import Annotation, open_annotations, save_annotations
from training.taxonomy import default_taxonomy

# tweet -> annotator -> (topic, urgency, lang)
LABELS = {
    "t1": {
        "ana": ("bencana", "darurat", "jv"),
        "budi": ("bencana", "darurat", "jv"),
        "cici": ("bencana", "tinggi", "jv"),
    },
    "t2": {"ana": ("utilitas", "tinggi", "id"), "budi": ("utilitas", "sedang", "id")},
    "t3": {"ana": ("infrastruktur", "sedang", "id"), "budi": ("transportasi", "sedang", "campur")},
    "t4": {
        "ana": ("lainnya", "rendah", "id"),
        "budi": ("lainnya", "rendah", "id"),
        "cici": ("lainnya", "rendah", "id"),
    },
    "t5": {"ana": ("infrastruktur", "tinggi", "jv"), "cici": ("infrastruktur", "tinggi", None)},
    "t6": {"budi": ("sosial", "tinggi", "id")},
}


def _store(tmp_path, labels=LABELS):
    conn = open_annotations(tmp_path / "a.sqlite")
    rows = [
        Annotation(t, who, topic, urg, lang, f"tweet {t}", "2026-11-01T00:00:00Z", "test")
        for t, by in labels.items()
        for who, (topic, urg, lang) in by.items()
    ]
    save_annotations(conn, rows)
    return conn


def test_pairwise_kappa_matches_sklearn_on_shared_tweets(tmp_path):
    report = agreement_report(_store(tmp_path))
    assert report["annotators"] == ["ana", "budi", "cici"]
    assert (report["tweets"], report["multiply_annotated"], report["annotations"]) == (6, 5, 13)
    pairs = {tuple(p["annotators"]): p for p in report["fields"]["topic"]["pairs"]}
    shared = ["t1", "t2", "t3", "t4"]
    a = [LABELS[t]["ana"][0] for t in shared]
    b = [LABELS[t]["budi"][0] for t in shared]
    expected = cohen_kappa_score(a, b, labels=default_taxonomy().topic_ids)
    assert pairs[("ana", "budi")]["n"] == 4
    assert pairs[("ana", "budi")]["agreement"] == 0.75
    assert pairs[("ana", "budi")]["kappa"] == pytest.approx(expected, abs=1e-4)
    # urgency is ordinal: the pair also gets a linearly weighted kappa
    urgency_pair = report["fields"]["urgency"]["pairs"][0]
    assert "kappa_linear" in urgency_pair and "kappa_linear" not in pairs[("ana", "budi")]


def test_alpha_matches_krippendorff_with_contract_order_for_urgency(tmp_path):
    report = agreement_report(_store(tmp_path))
    order = default_taxonomy().urgency_ids
    coders = ["ana", "budi", "cici"]
    units = [t for t, by in LABELS.items() if len(by) >= 2]
    data = np.array(
        [[order.index(LABELS[t][c][1]) if c in LABELS[t] else np.nan for t in units] for c in coders], dtype=float
    )
    expected = krippendorff.alpha(reliability_data=data, value_domain=range(4), level_of_measurement="ordinal")
    urgency = report["fields"]["urgency"]
    assert urgency["level"] == "ordinal"
    assert urgency["alpha"] == pytest.approx(expected, abs=1e-4)
    # Near misses (darurat/tinggi, tinggi/sedang) cost less under the ordinal metric.
    nominal = krippendorff.alpha(reliability_data=data, value_domain=range(4), level_of_measurement="nominal")
    assert urgency["alpha"] > nominal
    # lang: cici gave no language for t5, so t5 is not a lang unit
    assert report["fields"]["lang"]["units"] == 4


def test_confusion_and_per_class_agreement(tmp_path):
    topic = agreement_report(_store(tmp_path))["fields"]["topic"]
    assert topic["confusion"]["infrastruktur"]["transportasi"] == 1
    assert topic["confusion"]["transportasi"]["infrastruktur"] == 1
    assert topic["confusion"]["bencana"]["bencana"] == 3  # three pairs agree on t1
    infra = topic["per_class"]["infrastruktur"]
    assert infra == {"judgements": 2, "agreed": 1, "specific_agreement": pytest.approx(2 / 3, abs=1e-4)}
    assert topic["per_class"]["pendidikan"]["specific_agreement"] is None
    assert topic["top_confusions"] == [{"labels": ["infrastruktur", "transportasi"], "count": 1}]


def test_undefined_coefficients_are_none(tmp_path):
    same = {f"t{i}": {"ana": ("lainnya", "rendah", "id"), "budi": ("lainnya", "rendah", "id")} for i in range(3)}
    report = agreement_report(_store(tmp_path, same))
    topic = report["fields"]["topic"]
    assert topic["pairs"][0]["agreement"] == 1.0
    assert topic["pairs"][0]["kappa"] is None and topic["alpha"] is None
    assert field_agreement([], "topic")["alpha"] is None


def test_markdown_rendering(tmp_path):
    text = render_markdown(agreement_report(_store(tmp_path)))
    assert text.startswith("# Inter-annotator agreement")
    for field in ("## topic", "## urgency", "## lang", "Krippendorff's alpha (ordinal)", "| ana | budi | 4 |"):
        assert field in text
    assert "infrastruktur | transportasi | 1" in text
