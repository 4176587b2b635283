"""A ranker learned from the labelled MEDIQA training answers: the model's score combined with what the task gives.

The model's likelihood and CHiQA's retrieval order are complementary (docs/evaluation.md), so each candidate is
scored with a logistic regression over four features, fitted on the answers labelled in the training files (1,701
answers of 208 questions), never on validation or test:

- `model`: the chosen ranker's score (`evaluation.ranking`), standardised within the question (only the order of
  a question's candidates is comparable across questions);
- `retrieval`: -log(CHiQA's rank) (chosen over 1 / rank and the rank's share of the list by fitting on one
  training file and ranking the other, both ways: 61.3% against 60.4% and 61.2%);
- `overlap`: the share of the question's content words found in the answer;
- `length`: log(1 + words in the answer).

The labels still come from `label_ranking` (the top half of each question's candidates): the fitted score only
orders them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from medimind_assets.evaluation.mediqa_metrics import Judgement

FEATURES = ("model", "retrieval", "overlap", "length")
_WORD = re.compile(r"[a-z0-9]+")
L2 = 1e-2  # ridge on the standardised weights (not the intercept): 1,701 examples, 4 features
NEWTON_STEPS = 50


def content_words(text: str) -> list[str]:
    """Lower-case words of three letters or more (short words are mostly function words)."""
    return [w for w in _WORD.findall(text.lower()) if len(w) > 2]


def _standardised(values: Sequence[float]) -> list[float]:
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return [(v - mean) / spread if spread > 0 else 0.0 for v in values]


def question_features(question: str, answers: Sequence[str], model_scores: Sequence[float]) -> list[tuple[float, ...]]:
    """The features of one question's candidates, given in CHiQA's order, as `FEATURES` names them."""
    if len(answers) != len(model_scores):
        raise ValueError(f"{len(answers)} answers but {len(model_scores)} model scores")
    asked = set(content_words(question))
    rows = []
    for rank, (answer, model) in enumerate(zip(answers, _standardised(model_scores), strict=True), start=1):
        words = content_words(answer)
        overlap = len(asked & set(words)) / len(asked) if asked else 0.0
        rows.append((model, -math.log(rank), overlap, math.log1p(len(words))))
    return rows


@dataclass(frozen=True)
class LearnedRanker:
    """Logistic regression over standardised `FEATURES`: score = intercept + sum(weight x (x - mean) / scale)."""

    weights: tuple[float, ...]
    intercept: float
    means: tuple[float, ...]
    scales: tuple[float, ...]
    n_examples: int
    n_positive: int

    def score(self, features: Sequence[float]) -> float:
        return self.intercept + sum(
            w * (x - m) / s for w, x, m, s in zip(self.weights, features, self.means, self.scales, strict=True)
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "features": list(FEATURES)}


def fit_ranker(features: Sequence[Sequence[float]], labels: Sequence[int]) -> LearnedRanker:
    """Fit by Newton's method (the problem is convex and tiny): deterministic, no learning rate to choose."""
    import numpy as np

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(FEATURES) or len(y) != len(x):
        raise ValueError(f"expected rows of {len(FEATURES)} features and one label each, got {x.shape}, {y.shape}")
    if not 0 < y.sum() < len(y):
        raise ValueError("the training answers must include both correct and incorrect ones")
    means, scales = x.mean(axis=0), x.std(axis=0)
    scales[scales == 0] = 1.0
    design = np.hstack([(x - means) / scales, np.ones((len(x), 1))])
    ridge = np.diag([L2 * len(x)] * len(FEATURES) + [0.0])
    w = np.zeros(design.shape[1])
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-design @ w))
        gradient = design.T @ (p - y) + ridge @ w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return LearnedRanker(
        weights=tuple(float(v) for v in w[:-1]),
        intercept=float(w[-1]),
        means=tuple(float(v) for v in means),
        scales=tuple(float(v) for v in scales),
        n_examples=len(y),
        n_positive=int(y.sum()),
    )


@dataclass(frozen=True)
class QuestionScores:
    """One question, its candidates in CHiQA's order and the model's score of each."""

    question_id: str
    question: str
    answer_ids: tuple[str, ...]
    answers: tuple[str, ...]
    model_scores: tuple[float, ...]

    def features(self) -> list[tuple[float, ...]]:
        return question_features(self.question, self.answers, self.model_scores)


def fit_on_labelled(questions: Sequence[QuestionScores], gold: Sequence[Judgement]) -> LearnedRanker:
    """Fit on labelled questions (the MEDIQA training files); every candidate needs a gold label."""
    labels = {(g.question_id, g.answer_id): g.label for g in gold}
    features, targets = [], []
    for q in questions:
        for aid, row in zip(q.answer_ids, q.features(), strict=True):
            if (q.question_id, aid) not in labels:
                raise ValueError(f"question {q.question_id}, answer {aid}: no gold label to fit on")
            features.append(row)
            targets.append(labels[(q.question_id, aid)])
    return fit_ranker(features, targets)


def rerank(ranker: LearnedRanker, questions: Sequence[QuestionScores]) -> dict[str, list[tuple[str, float]]]:
    """Per question id: (answer id, learned score), in CHiQA's order (what `build_submission` takes)."""
    return {
        q.question_id: [(aid, ranker.score(row)) for aid, row in zip(q.answer_ids, q.features(), strict=True)]
        for q in questions
    }


def question_scores(task, scored: Mapping[str, Sequence[tuple[str, float]]]) -> list[QuestionScores]:
    """`QuestionScores` from a `RankingTask` and one ranker's scores of it (`ranking.score_candidates`)."""
    by_id = {(qid, aid): score for qid, answers in scored.items() for aid, score in answers}
    return [
        QuestionScores(
            q.question_id,
            q.text,
            tuple(c.answer_id for c in q.candidates),
            tuple(c.text for c in q.candidates),
            tuple(by_id[(q.question_id, c.answer_id)] for c in q.candidates),
        )
        for q in task.questions
    ]
