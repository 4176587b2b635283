"""The dataset rules on our own sample, whose awkward cases are listed in data/sample/README.md."""

from collections import Counter

import pytest

from medimind_assets.data import mediqa
from medimind_assets.data.build import build_dataset
from medimind_assets.data.cleaning import normalize_key
from medimind_assets.data.validation import validate_rows


@pytest.fixture(scope="module")
def sample(sample_data):
    return build_dataset(sample_data)


def by_answer(result, origin_part, answer_id):
    return [r for r in result.rows if origin_part in r["origin"] and r["answer_id"] == answer_id]


def test_every_rule_passes_and_each_rejection_is_counted(sample_data, sample):
    assert [
        o.name for o in validate_rows(sample.rows, mediqa.test_questions(sample_data / "mediqa2019_qa")) if not o.passed
    ] == []
    assert sample.rejected == Counter(
        mediqa_incorrect_answer=70,
        empty_answer=16,
        overlaps_test_question=2,
        duplicate_pair=2,
        junk_answer=1,
        answer_equals_question=1,
    )
    assert Counter(r["split"] for r in sample.rows)["validation"] > 0


def test_near_duplicate_of_a_test_question_never_reaches_training(sample):
    key = normalize_key("What is high blood pressure?")
    assert {r["split"] for r in sample.rows if normalize_key(r["instruction"]) == key} == {"test"}


def test_awkward_text_is_cleaned(sample):
    prefixed = by_answer(sample, "LiveQAMed", "7_Answer1")[0]["response"]
    assert "«" not in prefixed and "»" not in prefixed
    assert not prefixed.split(".")[0].endswith(":")
    for row in sample.rows:
        assert not any(ch in row["response"] for ch in "\u00a0\u200b¶")
        assert not row["response"].lower().startswith("key points")
        assert "(are)" not in row["instruction"] and "? ?" not in row["instruction"]
    long_answer = by_answer(sample, "Alexa", "1_Answer2")[0]["response"]
    assert len(long_answer) <= 4000 and long_answer.endswith((".", "!", "?"))


def test_colliding_medquad_ids_give_distinct_questions(sample):
    ids = {r["question_id"] for r in sample.rows if "0000013_2" in r["origin"]}
    assert any("0000013_2_1" in i for i in ids) and any("/0000013_2:" in i for i in ids)


def test_safety_levels_cover_all_three(sample):
    assert {r["safety_level"] for r in sample.rows if r["split"] == "test"} == {"safe", "caution", "emergency"}
