"""The safety rules judged against questions labelled by hand (`safety_labels.tsv`): precision and recall per level."""

import csv
from collections import Counter
from pathlib import Path

import pytest

from medimind_assets.data import mediqa, medquad
from medimind_assets.data.boilerplate import repair_question
from medimind_assets.data.cleaning import clean_question
from medimind_assets.data.safety import SAFETY_LEVELS, classify_safety

LABELS = Path(__file__).with_name("safety_labels.tsv")


def _real_questions(raw: Path) -> dict[str, str]:
    """Question text by the key the dataset uses for `question_id`, cleaned as the dataset build cleans it."""
    texts = {}
    folder = raw / "mediqa2019_qa" / mediqa.TASK_DIR
    files = {**{name: tag for tag, name in mediqa.TRAINING_FILES.items()}, mediqa.TEST_LABELLED_FILE: "Test"}
    for name, tag in files.items():
        for question in mediqa.parse_mediqa_file(folder / name):
            texts[f"mediqa_qa:{tag}:{question.qid}"] = clean_question(question.text)
    for pairs in medquad.parse_collections(raw / "medquad").values():
        for pair in pairs:
            texts[f"medquad:{pair.question_key}"] = repair_question(clean_question(pair.question))[0]
    return texts


@pytest.fixture(scope="module")
def labelled(shared_data) -> list[tuple[str, str, str]]:
    """(key, hand label, question text) for every labelled question."""
    real = _real_questions(shared_data)
    lines = [line for line in LABELS.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    out = []
    for row in csv.DictReader(lines, delimiter="\t"):
        text = row["question"] if row["key"].startswith("ours:") else real[row["key"]]
        out.append((row["key"], row["label"], text))
    return out


def precision_recall(pairs: list[tuple[str, str]]) -> dict[str, tuple[float, float, int]]:
    """(precision, recall, support) per level from (hand label, predicted) pairs."""
    out = {}
    for level in SAFETY_LEVELS:
        predicted = sum(p == level for _, p in pairs)
        actual = sum(t == level for t, _ in pairs)
        hits = sum(t == p == level for t, p in pairs)
        out[level] = (hits / predicted if predicted else 1.0, hits / actual if actual else 1.0, actual)
    return out


def test_the_labelled_set_covers_every_source_and_level(labelled):
    assert len(labelled) >= 200
    sources = Counter(key.split(":")[0] for key, _, _ in labelled)
    assert sources["mediqa_qa"] >= 50 and sources["medquad"] >= 100 and sources["ours"] >= 20
    collections = {key.split(":")[1].split("/")[0] for key, _, _ in labelled if key.startswith("medquad:")}
    assert len(collections) >= 6
    levels = Counter(label for _, label, _ in labelled)
    assert levels["emergency"] >= 30 and levels["caution"] >= 20


def test_emergency_recall_and_precision_meet_the_targets(labelled):
    pairs = [(label, classify_safety(text)) for _, label, text in labelled]
    scores = precision_recall(pairs)
    for level, (precision, recall, support) in scores.items():
        print(f"{level:10s} precision {precision:.3f} recall {recall:.3f} support {support}")
    missed = [(key, text[:80]) for key, label, text in labelled if label == "emergency" != classify_safety(text)]
    false = [(key, text[:80]) for key, label, text in labelled if label != "emergency" == classify_safety(text)]
    precision, recall, _ = scores["emergency"]
    assert recall >= 0.95, f"emergencies missed: {missed}"
    assert precision >= 0.8, f"false emergencies: {false}"


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
