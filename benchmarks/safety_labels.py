"""The safety classifier and the urgent-care detector against the hand-labelled sets: precision and recall per
level, on the development sets (the examples the rules were written from) and on the held-out sets (frozen before
any tuning, never used to tune; a held-out question that is also in a development set is left out of it).

    PYTHONPATH=. .venv/bin/python benchmarks/safety_labels.py --raw ../shared/data [--misses]

`--misses` lists the development questions the classifier gets wrong (never the held-out ones: reading them would
make them development examples).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from medimind_assets.data.safety import SAFETY_LEVELS, advises_urgent_care, classify_safety
from medimind_assets_tests.data.labelled_sets import (
    DEVELOPMENT_QUESTIONS,
    HELD_OUT_QUESTIONS,
    URGENT_CARE_DEVELOPMENT,
    URGENT_CARE_HELD_OUT,
    labelled_answers,
    labelled_questions,
    precision_recall,
)


def _question_table(name: str, labelled: list[tuple[str, str, str]]) -> None:
    pairs = [(label, classify_safety(text)) for _, label, text in labelled]
    print(f"\n{name}: {len(labelled)} questions")
    print(f"{'level':10s} {'precision':>9s} {'recall':>7s} {'labelled':>8s}")
    for level, (precision, recall, support) in precision_recall(pairs).items():
        print(f"{level:10s} {precision:9.3f} {recall:7.3f} {support:8d}")


def _answer_table(name: str, labelled: list[tuple[bool, str]]) -> None:
    hits = [(label, advises_urgent_care(text)) for label, text in labelled]
    tp = sum(t and p for t, p in hits)
    predicted, actual = sum(p for _, p in hits), sum(t for t, _ in hits)
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    print(f"\n{name}: {len(labelled)} answers; advises urgent care: precision {precision:.3f} recall {recall:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, default=Path("../shared/data"), help="the raw MEDIQA and MedQuAD files")
    parser.add_argument("--misses", action="store_true", help="list the development questions classified wrongly")
    args = parser.parse_args()
    development = labelled_questions(DEVELOPMENT_QUESTIONS, args.raw)
    dev_keys = {key for key, _, _ in development}
    held_out = [row for row in labelled_questions(HELD_OUT_QUESTIONS, args.raw) if row[0] not in dev_keys]
    _question_table("development questions", development)
    _question_table("held-out questions", held_out)
    _answer_table("development answers", labelled_answers(URGENT_CARE_DEVELOPMENT))
    _answer_table("held-out answers", labelled_answers(URGENT_CARE_HELD_OUT))
    if args.misses:
        print("\ndevelopment misses (label -> predicted):")
        for key, label, text in development:
            predicted = classify_safety(text)
            if predicted != label:
                print(f"  {label:9s} -> {predicted:9s} {key:40s} {text[:110]}")
    assert set(SAFETY_LEVELS) == {"safe", "caution", "emergency"}


if __name__ == "__main__":
    main()
