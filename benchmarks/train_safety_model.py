"""Train the learned part of the safety classifier: a logistic model over the concepts of a question
(`medimind_assets/data/safety_concepts.py`) that says when a question the rules did not flag is an emergency.

Trained on the development labels only (never on `safety_heldout.tsv`), deterministically (full-batch gradient
descent from zeros), and written to `medimind_assets/data/safety_model.json`. It prints how well the rules and the
rules with the model generalise before it writes anything:
- across batches: trained on the first development files, judged on the last one (written later, by other hands,
  for variety), the closest thing to new questions that tuning may look at;
- 5-fold cross-validation over all development questions.

    PYTHONPATH=. .venv/bin/python benchmarks/train_safety_model.py --raw ../shared/data [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import math
import random
from itertools import combinations
from pathlib import Path

import numpy as np

from medimind_assets.data.safety import MODEL_PATH, Assessment, _by_rules
from medimind_assets.data.safety_concepts import NAMES, concepts
from medimind_assets.data.safety_text import question_text
from medimind_assets_tests.data.labelled_sets import DEVELOPMENT_QUESTIONS, labelled_questions, precision_recall

# The concepts and their pairs, as `safety_concepts.concepts` names them.
FEATURES = NAMES + [f"{a}&{b}" for a, b in combinations(NAMES, 2)]
L2 = 1.0
STEPS = 2000
THRESHOLD = 0.55


def assess_by_rules(question: str) -> Assessment:
    """The rules alone (no learned model)."""
    return _by_rules(question_text(question))


def _matrix(questions: list[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(FEATURES)}
    out = np.zeros((len(questions), len(FEATURES)))
    for row, question in enumerate(questions):
        for name in concepts(question_text(question)):
            out[row, index[name]] = 1.0
    return out


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = STEPS) -> tuple[np.ndarray, float]:
    weights, bias = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ weights + bias)))
        weights -= x.T @ (p - y) / len(y) + l2 * weights / len(y)
        bias -= float((p - y).mean())
    return weights, bias


def _judge(train: list[tuple[str, str, str]], test: list[tuple[str, str, str]], threshold: float) -> dict:
    x = _matrix([q for _, _, q in train])
    weights, bias = fit(x, np.array([label == "emergency" for _, label, _ in train], dtype=float))
    scores = 1.0 / (1.0 + np.exp(-(_matrix([q for _, _, q in test]) @ weights + bias)))
    pairs = []
    for (_, label, question), score in zip(test, scores, strict=True):
        rule = assess_by_rules(question).level
        pairs.append((label, "emergency" if rule == "emergency" or score >= threshold else rule))
    return precision_recall(pairs)


def _show(name: str, scores: dict) -> None:
    cells = "  ".join(f"{level} P {p:.3f} R {r:.3f}" for level, (p, r, _) in scores.items())
    print(f"{name:34s} {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dry-run", action="store_true", help="print the numbers, write nothing")
    args = parser.parse_args()
    *first, last = DEVELOPMENT_QUESTIONS
    earlier, later = labelled_questions(tuple(first), args.raw), labelled_questions((last,), args.raw)
    development = earlier + later
    rules_only = [(label, assess_by_rules(q).level) for _, label, q in later]
    _show(f"rules only, on {last.name}", precision_recall(rules_only))
    for threshold in (0.4, 0.5, THRESHOLD, 0.6):
        _show(f"rules + model @{threshold}, on {last.name}", _judge(earlier, later, threshold))
    shuffled = development[:]
    random.Random(0).shuffle(shuffled)
    folds = [shuffled[i::5] for i in range(5)]
    for threshold in (0.4, 0.5, THRESHOLD, 0.6):
        by_fold = []
        for k in range(5):
            train = [row for j, fold in enumerate(folds) if j != k for row in fold]
            by_fold.append(_judge(train, folds[k], threshold))
        mean = {
            level: tuple(float(np.mean([fold[level][i] for fold in by_fold])) for i in range(3)) for level in by_fold[0]
        }
        _show(f"rules + model @{threshold}, 5-fold", mean)
    x = _matrix([q for _, _, q in development])
    weights, bias = fit(x, np.array([label == "emergency" for _, label, _ in development], dtype=float))
    model = {
        "description": "Logistic model over question concepts (data/safety_concepts.py): P(emergency).",
        "trained_on": {
            path.name: sum(1 for _ in labelled_questions((path,), args.raw)) for path in DEVELOPMENT_QUESTIONS
        },
        "l2": L2,
        "steps": STEPS,
        "threshold": THRESHOLD,
        "bias": round(bias, 6),
        "weights": {name: round(float(w), 6) for name, w in zip(FEATURES, weights, strict=True) if abs(w) >= 1e-4},
    }
    assert all(math.isfinite(w) for w in model["weights"].values())
    if args.dry_run:
        return
    MODEL_PATH.write_text(json.dumps(model, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_PATH} ({len(model['weights'])} weights)")


if __name__ == "__main__":
    main()
