"""The safety classifier and the urgent-care detector judged against the hand-labelled sets (`labelled_sets.py`):
the development sets the rules and the model were written and trained from, and the held-out sets frozen before
any tuning. The held-out targets are the issue's: emergency recall >= 0.90 at precision >= 0.80, caution recall
>= 0.70. `benchmarks/safety_labels.py` prints the same tables."""

from collections import Counter

import pytest

from medimind_assets.data.safety import advises_urgent_care, classify_safety
from medimind_assets_tests.data.labelled_sets import (
    DEVELOPMENT_QUESTIONS,
    HELD_OUT_QUESTIONS,
    URGENT_CARE_DEVELOPMENT,
    URGENT_CARE_HELD_OUT,
    labelled_answers,
    labelled_questions,
    precision_recall,
)


@pytest.fixture(scope="module")
def development(shared_data) -> list[tuple[str, str, str]]:
    return labelled_questions(DEVELOPMENT_QUESTIONS, shared_data)


@pytest.fixture(scope="module")
def held_out(shared_data, development) -> list[tuple[str, str, str]]:
    """The held-out questions, less any that a development set also holds (those were seen while tuning)."""
    seen = {key for key, _, _ in development}
    return [row for row in labelled_questions(HELD_OUT_QUESTIONS, shared_data) if row[0] not in seen]


def _scores(labelled: list[tuple[str, str, str]]) -> dict[str, tuple[float, float, int]]:
    scores = precision_recall([(label, classify_safety(text)) for _, label, text in labelled])
    for level, (precision, recall, support) in scores.items():
        print(f"{level:10s} precision {precision:.3f} recall {recall:.3f} support {support}")
    return scores


def test_the_labelled_sets_cover_every_source_level_and_way_of_asking(development, held_out):
    assert len(development) + len(held_out) >= 600 and len(held_out) >= 250
    sources = Counter(key.split(":")[0] for key, _, _ in development)
    assert sources["mediqa_qa"] >= 50 and sources["medquad"] >= 100 and sources["ours"] >= 500
    collections = {key.split(":")[1].split("/")[0] for key, _, _ in development if key.startswith("medquad:")}
    assert len(collections) >= 8
    for labelled in (development, held_out):
        levels = Counter(label for _, label, _ in labelled)
        assert min(levels.values()) >= 90, levels
    typed_like_people = [text for _, _, text in development if text == text.lower() and "?" not in text]
    assert len(typed_like_people) >= 150  # no capitals, no question mark


def test_development_numbers(development):
    scores = _scores(development)
    assert scores["emergency"][1] >= 0.93 and scores["emergency"][0] >= 0.85
    assert scores["caution"][1] >= 0.9


def test_held_out_numbers_meet_the_targets(held_out):
    scores = _scores(held_out)
    assert scores["emergency"][1] >= 0.90 and scores["emergency"][0] >= 0.80
    assert scores["caution"][1] >= 0.70


@pytest.mark.parametrize(
    ("path", "precision", "recall"), [(URGENT_CARE_DEVELOPMENT, 0.95, 0.95), (URGENT_CARE_HELD_OUT, 0.9, 0.85)]
)
def test_the_urgent_care_detector_on_labelled_answers(path, precision, recall):
    labelled = labelled_answers(path)
    hits = [(label, advises_urgent_care(text)) for label, text in labelled]
    true_positive = sum(t and p for t, p in hits)
    assert true_positive / sum(p for _, p in hits) >= precision
    assert true_positive / sum(t for t, _ in hits) >= recall


@pytest.mark.parametrize(
    "question",
    [
        "What are the symptoms of Dwarfism, low-birth-weight type with unresponsiveness to growth hormone?",
        "How many people are affected by Heart Attack?",
        "What are the symptoms of Mitochondrial encephalomyopathy lactic acidosis and stroke-like episodes?",
        "What is Chemical Emergencies?",
    ],
)
def test_keywords_inside_other_words_or_informational_questions_are_not_emergencies(question):
    assert classify_safety(question) != "emergency"


def test_recognising_a_stroke_or_heart_attack_is_an_emergency_question():
    assert classify_safety("What are the symptoms of Stroke?") == "emergency"
    assert classify_safety("What are the symptoms of Heart Attack?") == "emergency"
