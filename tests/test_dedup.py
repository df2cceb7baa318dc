from training.dedup import near_duplicate_groups, similar_pairs


def test_near_copies_are_paired_and_distinct_texts_are_not():
    texts = [
        "Jalan di Desa Sidorejo rusak parah, banyak lubang!!",
        "jalan di desa sidorejo rusak parah banyak lubang",
        "PDAM mati tiga hari, warga beli air galon",
        "short",
    ]
    pairs = similar_pairs(texts, 0.6)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]
    assert pairs[0][2] >= 0.6


def test_groups_follow_chains_of_pairs():
    a = "banjir rob di sayung makin tinggi warga mengungsi"
    b = "banjir rob di sayung makin tinggi warga mengungsi lagi"
    c = "banjir rob di sayung makin tinggi warga mengungsi lagi malam ini"
    groups = near_duplicate_groups([a, b, c, "lampu pju mati"], 0.8)
    assert groups[0] == groups[1] == groups[2] != groups[3]


def test_single_text_and_empty_input():
    assert similar_pairs([]) == []
    assert list(near_duplicate_groups(["x"])) == [0]


def test_new_from_skips_old_old_pairs_but_still_links_chains():
    old_a = "banjir rob di sayung makin tinggi warga mengungsi"
    old_b = "banjir rob di sayung makin tinggi warga mengungsi lagi"  # near old_a, but both are old
    new = "banjir rob di sayung makin tinggi warga mengungsi lagi ya"
    assert sorted((i, j) for i, j, _ in similar_pairs([old_a, old_b, new], 0.8, new_from=2)) == [(0, 2), (1, 2)]
    assert [(i, j) for i, j, _ in similar_pairs([old_a, old_b, "pdam mati"], 0.8, new_from=2)] == []
    assert similar_pairs([old_a, old_b], 0.8) == similar_pairs([old_a, old_b], 0.8, new_from=0)
