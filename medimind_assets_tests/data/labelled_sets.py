"""The hand-labelled sets the safety rules are judged by, read in one place (the tests and
`benchmarks/safety_labels.py` share it).

Questions (`docs/safety-labels.md` is the rule they are labelled by): the development sets, `safety_labels.tsv` and
`safety_labels_more.tsv`, are the examples the rules were written from; `safety_heldout.tsv` was frozen before any
tuning and is never used to tune. A key names a real question (`mediqa_qa:<file tag>:<QID>`,
`medquad:<collection>/<file>:<qid>`, its text read from the raw files as the dataset build cleans it) or one of our
own (`ours:<n>`, `ours-b4:<n>`, `ours-heldout:<n>`, ..., its text in the third column).

Answers: `urgent_care_answers.tsv` (development) and `urgent_care_answers_heldout.tsv` (held out), each row
`yes`/`no` (does the answer advise urgent care) and the answer.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from medimind_assets.data import mediqa, medquad
from medimind_assets.data.boilerplate import repair_question
from medimind_assets.data.cleaning import clean_question
from medimind_assets.data.safety import SAFETY_LEVELS

HERE = Path(__file__).parent
DEVELOPMENT_QUESTIONS = tuple(
    HERE / f"safety_labels{name}.tsv"
    for name in ("", "_more", "_batch3", "_batch4", "_batch5", "_batch6", "_batch7", "_batch8", "_batch9", "_batch10")
)
HELD_OUT_QUESTIONS = tuple(HERE / f"safety_heldout{n}.tsv" for n in ("", "2", "3", "4", "5", "7", "8"))
URGENT_CARE_DEVELOPMENT = HERE / "urgent_care_answers.tsv"
URGENT_CARE_HELD_OUT = HERE / "urgent_care_answers_heldout.tsv"


def _rows(path: Path) -> list[dict[str, str]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


@cache
def real_questions(raw: Path) -> dict[str, str]:
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


def labelled_questions(paths: tuple[Path, ...], raw: Path | None) -> list[tuple[str, str, str]]:
    """(key, label, question) of every row of `paths`; real questions need `raw` (else they are left out)."""
    real = real_questions(raw) if raw is not None else {}
    out = []
    for path in paths:
        for row in _rows(path):
            key, label = row["key"], row["label"]
            assert label in SAFETY_LEVELS, f"{path.name}: {key} has label {label!r}"
            if key.startswith("ours"):
                out.append((key, label, row["question"]))
            elif key in real:
                out.append((key, label, real[key]))
    return out


def labelled_answers(path: Path) -> list[tuple[bool, str]]:
    return [(row["label"] == "yes", row["answer"]) for row in _rows(path)]


def precision_recall(pairs: list[tuple[str, str]]) -> dict[str, tuple[float, float, int]]:
    """(precision, recall, support) per level from (hand label, predicted) pairs."""
    out = {}
    for level in SAFETY_LEVELS:
        predicted = sum(p == level for _, p in pairs)
        actual = sum(t == level for t, _ in pairs)
        hits = sum(t == p == level for t, p in pairs)
        out[level] = (hits / predicted if predicted else 1.0, hits / actual if actual else 1.0, actual)
    return out
