"""MEDIQA 2019 Task 3 (question answering): submission files and the official metrics.

A submission lists, for each question, its answers in ranked order as `question_id,answer_id,label` lines (no
header), label 1 for answers judged correct, which come first. The gold standard is the ground-truth file
order: each question's correct answers (ReferenceScore 3 or 4) by ReferenceRank, then the incorrect ones.

Metrics, as the organisers' evaluator (`Eval_Scripts/mediqa2019_evaluator_allTasks_final.py`) aggregates them:
- accuracy: submitted (question, answer, label) triples that match the gold standard / gold rows;
- MRR: 1 / position (within the question's submitted lines) of the first line labelled 1 whose answer is
  correct, 0 when there is none; mean over all gold questions;
- P@k: correct answers among the lines labelled 1 at positions <= k; P@1 averaged over questions, P@5 and
  P@10 divided by the sum over questions of min(k, number of correct answers);
- Spearman: per question, rank correlation between the submitted order and the gold order of the correct
  answers the submission labels 1; a question with none of them scores 0, one with a single one (undefined)
  is left out; mean over the remaining questions;
- precision: the share of lines labelled 1 that are correct (micro-averaged over all answers).

Where that script is wrong, these follow the task description instead (the tests pin each case): it reads
the test ground-truth header as a data row (one extra gold row); it credits MRR to the first line labelled 1
even when that answer is incorrect; and it passes answer-ID strings to `spearmanr`, which ranks them
alphabetically instead of comparing positions. Questions without any correct answer (none in the 2019 test
set) are left out of Spearman rather than crashing it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from medimind_assets.atomic import atomic_write_text

HEADER = "question_id,answer_id,label"


@dataclass(frozen=True)
class Judgement:
    """One line of a submission or ground-truth file."""

    question_id: str
    answer_id: str
    label: int


@dataclass(frozen=True)
class Task3Scores:
    accuracy: float
    precision: float
    mrr: float
    spearman: float
    p_at_1: float
    p_at_5: float
    p_at_10: float
    n_questions: int
    n_answers: int
    n_spearman_questions: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def format_submission(rows: Iterable[Judgement]) -> str:
    lines = []
    for row in rows:
        if row.label not in (0, 1) or "," in row.question_id or "," in row.answer_id:
            raise ValueError(f"cannot write submission line {row}: ids without commas and a 0/1 label needed")
        lines.append(f"{row.question_id},{row.answer_id},{row.label}")
    return "\n".join(lines) + "\n"


def write_submission(path: Path, rows: Iterable[Judgement]) -> Path:
    """Write a submission in the official format (no header), atomically."""
    atomic_write_text(Path(path), format_submission(rows))
    return Path(path)


def read_judgements(path: Path) -> list[Judgement]:
    """Read a submission or ground-truth file (skipping an optional `question_id,answer_id,label` header)."""
    rows: list[Judgement] = []
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or (number == 1 and line.replace(" ", "") == HEADER):
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3 or parts[2] not in ("0", "1"):
            raise ValueError(f"{path}:{number}: expected 'question_id,answer_id,label' (label 0/1), got {raw!r}")
        rows.append(Judgement(parts[0], parts[1], int(parts[2])))
    return rows


def gold_from_questions(questions: Iterable) -> list[Judgement]:
    """Ground truth from labelled MEDIQA questions (`MediqaQuestion`), in the official ground-truth order."""
    gold: list[Judgement] = []
    for question in questions:
        for answer in question.answers:
            if answer.reference_score is None or answer.reference_rank is None:
                raise ValueError(
                    f"question {question.qid}, answer {answer.aid}: no ReferenceScore/ReferenceRank; "
                    "ranking metrics need the labelled test file (TestSet-wLabels.xml)"
                )
        ordered = sorted(question.answers, key=lambda a: (not a.is_correct, a.reference_rank))
        gold.extend(Judgement(question.qid, a.aid, int(a.is_correct)) for a in ordered)
    return gold


def spearman_rho(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rank correlation of two sequences without ties: 1 - 6 sum d^2 / (n (n^2 - 1))."""
    n = len(xs)
    if n != len(ys) or n < 2:
        raise ValueError("spearman_rho needs two sequences of the same length, at least 2")
    rank_x = {v: r for r, v in enumerate(sorted(xs))}
    rank_y = {v: r for r, v in enumerate(sorted(ys))}
    if len(rank_x) != n or len(rank_y) != n:
        raise ValueError("spearman_rho expects values without ties")
    d2 = sum((rank_x[x] - rank_y[y]) ** 2 for x, y in zip(xs, ys, strict=True))
    return 1.0 - 6.0 * d2 / (n * (n * n - 1))


def score_task3(submission: Sequence[Judgement], gold: Sequence[Judgement]) -> Task3Scores:
    """Score a submission against the gold standard (see the module docstring for each definition)."""
    if not gold:
        raise ValueError("empty gold standard: nothing to score against")
    seen: set[tuple[str, str]] = set()
    by_question: dict[str, list[Judgement]] = {}
    for row in submission:
        if (row.question_id, row.answer_id) in seen:  # the official evaluator keeps the first occurrence
            continue
        seen.add((row.question_id, row.answer_id))
        by_question.setdefault(row.question_id, []).append(row)

    gold_set = {(g.question_id, g.answer_id, g.label) for g in gold}
    matched = sum((r.question_id, r.answer_id, r.label) in gold_set for rows in by_question.values() for r in rows)
    correct: dict[str, list[str]] = {}
    for g in gold:
        correct.setdefault(g.question_id, [])
        if g.label == 1:
            correct[g.question_id].append(g.answer_id)

    mrr = p1 = p5 = p10 = 0.0
    ref5 = ref10 = 0
    spearman_sum, spearman_n = 0.0, 0
    predicted_pos = true_pos = 0
    for qid, gold_correct in correct.items():
        gold_rank = {aid: rank for rank, aid in enumerate(gold_correct)}
        submitted_correct: list[str] = []
        first = True
        for position, row in enumerate(by_question.get(qid, []), start=1):
            if row.label != 1:
                continue
            predicted_pos += 1
            if row.answer_id not in gold_rank:
                continue
            true_pos += 1
            submitted_correct.append(row.answer_id)
            if first:
                mrr += 1.0 / position
                first = False
            p1 += position == 1
            p5 += position <= 5
            p10 += position <= 10
        ref5 += min(5, len(gold_correct))
        ref10 += min(10, len(gold_correct))
        if not gold_correct or len(submitted_correct) == 1:
            continue
        spearman_n += 1
        if submitted_correct:
            spearman_sum += spearman_rho(list(range(len(submitted_correct))), [gold_rank[a] for a in submitted_correct])

    n_questions = len(correct)
    return Task3Scores(
        accuracy=matched / len(gold),
        precision=true_pos / predicted_pos if predicted_pos else 0.0,
        mrr=mrr / n_questions,
        spearman=spearman_sum / spearman_n if spearman_n else 0.0,
        p_at_1=p1 / n_questions,
        p_at_5=p5 / ref5 if ref5 else 0.0,
        p_at_10=p10 / ref10 if ref10 else 0.0,
        n_questions=n_questions,
        n_answers=len(gold),
        n_spearman_questions=spearman_n,
    )


def label_ranking(
    question_id: str, scored: Sequence[tuple[str, float]], positive_fraction: float = 0.5
) -> list[Judgement]:
    """Rank one question's answers by score (highest first) and label the top ceil(fraction x n) correct.

    With 0.5 an answer is labelled correct when its score is at or above the question's median; 52% of the
    2019 test answers are correct, so half is the prior an uninformed ranker should assume. Ties keep input
    order (the system rank), so the result is deterministic.
    """
    if not 0.0 < positive_fraction <= 1.0:
        raise ValueError(f"positive_fraction must be in (0, 1], got {positive_fraction}")
    for aid, score in scored:
        if not math.isfinite(score):
            raise ValueError(f"question {question_id}, answer {aid}: score {score} is not finite")
    order = sorted(range(len(scored)), key=lambda i: -scored[i][1])
    n_positive = math.ceil(positive_fraction * len(scored))
    return [Judgement(question_id, scored[i][0], int(rank < n_positive)) for rank, i in enumerate(order)]
