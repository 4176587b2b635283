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
        answer_only_question=1,
        missing_table=1,
        link_list=5,
        answer_shared_too_widely=2,
        contact_details_only=1,
    )
    assert sample.repaired == Counter(
        question_capitalised=7,
        repeated_text=4,  # the CancerGov key points, given again as each section's first sentence
        restated_question=2,
        more_information=2,
        missing_table=1,
        question_information_request=2,
        navigation=1,
        summary_prefix=2,
        media_instructions=1,
        credits=1,
        language_switch=1,
        attribution=1,
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


def test_every_collection_is_counted_and_the_second_schema_is_read(sample):
    ninds = sample.collections["6_NINDS_QA"]
    assert (ninds["files"], ninds["pairs"], ninds["rows"]) == (1, 3, 3)
    for name, counts in sample.collections.items():
        rejected = sum(v for k, v in counts.items() if k.startswith("rejected/"))
        assert counts["rows"] + rejected == counts["pairs"], name
    assert {s["repair"] for s in sample.repair_samples} == set(sample.repaired)


def test_boilerplate_is_repaired_in_the_published_rows(sample):
    rows = {r["instruction"]: r["response"] for r in sample.rows}
    assert rows["What is essential tremor?"].startswith("Essential tremor is")
    assert rows["What should I know about Hand Washing?"].startswith("Washing your hands")
    assert "More on" not in rows["What should I know about Hand Washing?"]
    assert rows["What are the symptoms of Sample syndrome?"] == (
        "People with Sample syndrome are often shorter than their relatives and have short fingers."
    )
    assert not [q for q in rows if q.startswith("What are the treatments for sample dystrophy")]
    inherited = [q for q in rows if q.startswith("Is sample dystrophy") and q.endswith("inherited?")]
    assert len(inherited) == 3  # one identical answer, kept for three questions
