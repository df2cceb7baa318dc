import numpy as np

from training.labelling.simulate import simulate, to_markdown


def _fake_embed(texts):
    rng = np.random.default_rng(len(texts))
    return rng.normal(size=(len(texts), 8))


def test_simulation_curves_have_every_point(label_store):
    # The tiny store has 16 train rows: start from 8, add 4 per round.
    result = simulate(label_store, start=8, step=4, rounds=2, embed=_fake_embed)
    counts = [(p["strategy"], p["labels"]) for p in result["points"]]
    assert counts == [(s, n) for s in ("random", "uncertainty", "diverse") for n in (8, 12, 16)]
    assert all(0 <= p["topic_macro_f1"] <= 1 for p in result["points"])
    assert "| 16 |" in to_markdown(result)
