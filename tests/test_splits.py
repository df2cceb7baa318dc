from collections import Counter

from tests.conftest import make_rows
from training.splits import assign_splits, read_splits, write_splits


def _many_rows():
    topics = ["infrastruktur", "bencana", "utilitas", "lainnya"]
    words = "abcdefghijklmnopqrstuvwxyz"
    rows = []
    for i in range(200):
        # distinct texts: each mixes different "words" so no two are near-duplicates
        text = " ".join(words[(i * k) % 26] * 3 + str(i * k) for k in range(1, 7))
        rows.append((text, topics[i % 4], "sedang", ["id", "jv"][i % 2]))
    return make_rows(rows, prefix="m")


def test_assignment_is_deterministic_and_roughly_80_10_10():
    rows = _many_rows()
    first, second = assign_splits(rows), assign_splits(rows)
    assert first == second
    counts = Counter(first.values())
    assert 150 <= counts["train"] <= 170 and 15 <= counts["valid"] <= 25 and 15 <= counts["test"] <= 25


def test_stratified_by_topic_and_language():
    rows = _many_rows()
    assignment = assign_splits(rows)
    test_strata = Counter(f"{r.topic}|{r.lang}" for r in rows if assignment[r.id] == "test")
    assert len(test_strata) >= 4  # every topic x language stratum reaches the test split


def test_near_duplicates_share_a_split():
    rows = _many_rows()
    dup = rows[0].model_copy(update={"id": "dup", "text": rows[0].text + "!"})
    assignment = assign_splits([*rows, dup])
    assert assignment["dup"] == assignment[rows[0].id]


def test_existing_assignments_never_move_and_new_near_duplicates_follow_them():
    rows = _many_rows()
    existing = {r.id: "test" for r in rows[:5]}
    dup = rows[1].model_copy(update={"id": "dup", "text": rows[1].text + " ."})
    assignment = assign_splits([*rows, dup], existing)
    assert all(assignment[k] == "test" for k in existing)
    assert assignment["dup"] == "test"


def test_small_new_batch_gets_a_split(tmp_path):
    rows = make_rows()[:3]
    assignment = assign_splits(rows)
    assert set(assignment) == {r.id for r in rows}
    write_splits(tmp_path / "splits.csv", assignment)
    assert read_splits(tmp_path / "splits.csv") == assignment
