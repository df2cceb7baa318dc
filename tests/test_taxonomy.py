import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from training.taxonomy import (
    CONTRACT_LANGS,
    CONTRACT_TOPICS,
    CONTRACT_URGENCY,
    DEFAULT_TAXONOMY_PATH,
    TaxonomyError,
    default_taxonomy,
    load_taxonomy,
)


def test_repository_taxonomy_matches_the_contract():
    tax = default_taxonomy()
    assert tax.topic_ids == list(CONTRACT_TOPICS)
    assert tax.urgency_ids == list(CONTRACT_URGENCY)
    assert tax.lang_ids == list(CONTRACT_LANGS)
    assert tax.topic("lainnya").agency is None
    assert all(tax.topic(t).agency is not None for t in CONTRACT_TOPICS if t != "lainnya")


def test_contract_page_ids_match_when_shared_spec_is_present():
    spec = Path(__file__).resolve().parents[2] / "shared" / "spec" / "labels.md"
    if not spec.exists():
        pytest.skip("../shared/spec/labels.md not present")
    text = spec.read_text(encoding="utf-8")
    for topic in CONTRACT_TOPICS:
        assert f"| {topic} |" in text


def _write(tmp_path, mutate) -> Path:
    raw = yaml.safe_load(DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_missing_topic_is_rejected_naming_the_file(tmp_path):
    path = _write(tmp_path, lambda raw: raw["topics"].pop(0))
    with pytest.raises(TaxonomyError, match=r"(?s)taxonomy.yaml.*missing \['infrastruktur'\]"):
        load_taxonomy(path)


def test_urgency_must_keep_its_order(tmp_path):
    path = _write(tmp_path, lambda raw: raw["urgency"].reverse())
    with pytest.raises(TaxonomyError, match="must be ordered"):
        load_taxonomy(path)


def test_bad_agency_handle_is_rejected(tmp_path):
    path = _write(tmp_path, lambda raw: raw["topics"][0]["agency"].update(handle="no at sign"))
    with pytest.raises(TaxonomyError, match="handle"):
        load_taxonomy(path)


def test_taxonomy_import_does_not_pull_in_torch():
    code = "import sys, training.taxonomy, training.labels, training.routing; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
