"""The dataset rules on the real MEDIQA and MedQuAD files: the four mistakes of the original pipeline never recur."""

from collections import Counter, defaultdict

import pytest

from medimind_assets.data import mediqa
from medimind_assets.data.build import BuildOptions, build_dataset, split_for
from medimind_assets.data.cleaning import clean_question, normalize_key
from medimind_assets.data.safety import DosageRule, gives_dosage_instructions
from medimind_assets.data.validation import validate_rows


@pytest.fixture(scope="module")
def real(real_build):
    return real_build


def test_only_correct_mediqa_answers_are_kept(real):
    mediqa_rows = [r for r in real.rows if r["source"] == "mediqa_qa"]
    assert mediqa_rows and all(r["reference_score"] in (3, 4) for r in mediqa_rows)
    assert real.rejected["mediqa_incorrect_answer"] == 1742


def test_test_split_is_exactly_the_mediqa_test_set(shared_data, real):
    test_rows = [r for r in real.rows if r["split"] == "test"]
    assert {r["origin"].rsplit("/", 1)[-1] for r in test_rows} == {mediqa.TEST_LABELLED_FILE}
    test_keys = {normalize_key(clean_question(q)) for q in mediqa.test_questions(shared_data / "mediqa2019_qa")}
    leaked = [r for r in real.rows if r["split"] != "test" and normalize_key(r["instruction"]) in test_keys]
    assert leaked == []
    # uveitis-style repeats: training questions equal to a test question were dropped, not moved
    assert real.rejected["overlaps_test_question"] > 0


def test_no_test_reference_answer_is_trained_on(real):
    test_answers = {normalize_key(r["response"]) for r in real.rows if r["split"] == "test"}
    assert not [r for r in real.rows if r["split"] != "test" and normalize_key(r["response"]) in test_answers]


def test_no_duplicate_pairs_and_every_question_in_one_split(real):
    pairs = Counter((normalize_key(r["instruction"]), normalize_key(r["response"])) for r in real.rows)
    assert max(pairs.values()) == 1
    splits = defaultdict(set)
    for r in real.rows:
        splits[normalize_key(r["instruction"])].add(r["split"])
    assert all(len(s) == 1 for s in splits.values())
    assert real.rejected["duplicate_pair"] > 0


def test_no_answer_is_both_trained_on_and_validated_against(real):
    """A validation question whose reference is also a training target would measure memory (32 rows moved)."""
    splits = defaultdict(set)
    for r in real.rows:
        if r["split"] != "test":
            splits[normalize_key(r["response"])].add(r["split"])
    assert all(len(s) == 1 for s in splits.values())
    assert "What is Hirschsprung's disease?" in {r["instruction"] for r in real.rows if r["split"] == "validation"}


def test_empty_medquad_collection_is_rejected_as_empty(real):
    assert real.rejected["empty_answer"] >= 792
    assert not [r for r in real.rows if "12_MPlusHerbsSupplements_QA" in r["origin"]]


def test_validation_fraction_is_about_ten_percent_of_questions(real):
    questions = {normalize_key(r["instruction"]): r["split"] for r in real.rows if r["split"] != "test"}
    share = sum(s == "validation" for s in questions.values()) / len(questions)
    assert 0.07 < share < 0.13


def test_build_is_deterministic_and_all_rules_pass(shared_data, real):
    again = build_dataset(shared_data)
    assert again.rows == real.rows
    outcomes = validate_rows(real.rows, mediqa.test_questions(shared_data / "mediqa2019_qa"))
    assert [o.name for o in outcomes if not o.passed] == []
    assert len({r["id"] for r in real.rows}) == len(real.rows)


def test_rows_are_clean(real):
    for r in real.rows:
        for text in (r["instruction"], r["response"]):
            assert text == text.strip()
            assert not any(ch in text for ch in "\u00a0\u200b¶«»")
        assert len(r["response"]) <= 4000
    assert real.truncated > 0
    assert not [r for r in real.rows if r["instruction"].startswith("What is (are)")]


def test_safety_levels_are_real(real):
    levels = Counter(r["safety_level"] for r in real.rows)
    assert set(levels) == {"safe", "caution", "emergency"}
    assert levels["safe"] > levels["caution"] > levels["emergency"] > 0


def test_dosage_rule_reject_drops_dosage_answers(shared_data, real):
    # MEDIQA alone keeps the second build fast; its answers carry the dosage instructions.
    flagging = build_dataset(shared_data, BuildOptions(include_medquad=False))
    rejecting = build_dataset(shared_data, BuildOptions(include_medquad=False, dosage_rule=DosageRule.REJECT))
    flagged = [r for r in flagging.rows if r["split"] != "test" and gives_dosage_instructions(r["response"])]
    assert flagged and {r["safety_level"] for r in flagged} <= {"caution", "emergency"}
    assert rejecting.rejected["dosage_instructions"] > 0
    assert not [r for r in rejecting.rows if r["split"] != "test" and gives_dosage_instructions(r["response"])]


def test_split_assignment_is_stable():
    assert split_for("what is flu", 0.1) == split_for("what is flu", 0.1)
    assert {split_for(f"question {i}", 0.5) for i in range(20)} == {"train", "validation"}
