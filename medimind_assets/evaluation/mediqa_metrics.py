"""MEDIQA 2019 Task 3 (question answering): submission files, the organisers' official metrics and ours.

A submission lists, for each question, its answers in ranked order as `question_id,answer_id,label` lines (no
header), label 1 for answers judged correct, which come first. The gold standard is the ground-truth file
order: each question's correct answers (ReferenceScore 3 or 4) by ReferenceRank, then the incorrect ones.

Two sets of numbers, reported side by side:

`score_task3_official` reproduces the organisers' final evaluator (`Eval_Scripts/mediqa2019_evaluator_allTasks_final.py`,
the one behind the 2019 leaderboard), which reports accuracy, Spearman, MRR and precision:
- accuracy: submitted (question, answer, label) lines that match a gold line / gold lines (duplicates of a
  (question, answer) pair keep the first);
- precision: the share of lines labelled 1 whose answer is correct;
- MRR: 1 / position (among the question's submitted lines) of the first line labelled 1 whose answer is
  correct, 0 when there is none; mean over the gold questions;
- Spearman: per question, `scipy.stats.spearmanr` of two lists of answer-ID *strings*: the correct answers the
  submission labels 1, in submitted order, and the same answers in gold order. Strings are ranked
  alphabetically, so it compares where each list's i-th ID falls alphabetically, not the submitted positions;
  a question with fewer than two such answers gives NaN and is left out of the mean.

`score_task3` gives our corrected numbers, the task description's intent: accuracy, precision and MRR as above;
Spearman correlates the submitted positions with the gold positions of those answers, a question with none of
its correct answers labelled 1 scores 0 (and counts: labelling nothing correct is not rewarded by leaving the
question out), one with a single such answer is left out (undefined); plus P@1, P@5 and P@10 (correct answers
among the lines labelled 1 at positions <= k; P@1 averaged over questions, P@5 and P@10 divided by the sum over
questions of min(k, number of correct answers)), as an earlier version of the organisers' script defined them.

The final script itself crashes on two inputs these functions accept: a ground-truth file with its header row
(the 2019 test file has one; read as a question without correct answers, it raises a KeyError) and a question
without correct answers. Here the header is skipped, and such a question scores 0 for MRR and is left out of
Spearman.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

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


def format_submission(rows: Iterable[Judgement]) -> str:
    lines = []
    for row in rows:
        if row.label not in (0, 1) or "," in row.question_id or "," in row.answer_id:
            raise ValueError(f"cannot write submission line {row}: ids without commas and a 0/1 label needed")
        lines.append(f"{row.question_id},{row.answer_id},{row.label}")
    return "\n".join(lines) + "\n"


def read_judgements(path: Path) -> list[Judgement]:
    """Read a submission or ground-truth file (skipping an optional `question_id,answer_id,label` header)."""
    rows: list[Judgement] = []
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or (number == 1 and line.replace(" ", "").lower() == HEADER):
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


def _scan(submission: Sequence[Judgement], gold: Sequence[Judgement]) -> tuple[list, float, float, float]:
    """What both scorings count: per gold question, its correct answers in gold order and the (position, answer
    ID) of each submitted line labelled 1 whose answer is correct; the accuracy, precision and MRR. A repeated
    (question, answer) pair keeps its first line, and positions count the question's lines in file order."""
    if not gold:
        raise ValueError("empty gold standard: nothing to score against")
    correct: dict[str, list[str]] = {g.question_id: [] for g in gold}
    for g in gold:
        if g.label == 1:
            correct[g.question_id].append(g.answer_id)
    first: dict[tuple[str, str], Judgement] = {}
    for row in submission:
        first.setdefault((row.question_id, row.answer_id), row)
    by_question: dict[str, list[Judgement]] = {}
    for row in first.values():
        by_question.setdefault(row.question_id, []).append(row)
    gold_set = {(g.question_id, g.answer_id, g.label) for g in gold}
    accuracy = sum((r.question_id, r.answer_id, r.label) in gold_set for r in first.values()) / len(gold)
    questions, predicted_pos = [], 0
    for qid, gold_correct in correct.items():
        rows = enumerate(by_question.get(qid, []), start=1)
        labelled = [(position, row.answer_id) for position, row in rows if row.label == 1]
        predicted_pos += len(labelled)
        questions.append((gold_correct, [(position, aid) for position, aid in labelled if aid in gold_correct]))
    true_pos = sum(len(hits) for _, hits in questions)
    precision = true_pos / predicted_pos if predicted_pos else 0.0
    mrr = sum(1.0 / hits[0][0] for _, hits in questions if hits) / len(questions)
    return questions, accuracy, precision, mrr


@dataclass(frozen=True)
class OfficialTask3Scores:
    """The four numbers the organisers' final evaluator prints, computed as it computes them."""

    accuracy: float
    precision: float
    mrr: float
    spearman: float
    n_questions: int
    n_spearman_questions: int  # questions whose Spearman is not NaN (two or more correct answers labelled 1)


def spearman_of_id_strings(submitted: Sequence[str], gold_order: Sequence[str]) -> float:
    """`scipy.stats.spearmanr(submitted, gold_order)` on two orders of the same distinct answer IDs, as the final
    script calls it: each list's IDs are ranked alphabetically. NaN for fewer than two IDs."""
    if sorted(submitted) != sorted(gold_order) or len(set(submitted)) != len(submitted):
        raise ValueError("spearman_of_id_strings needs two orders of the same distinct IDs")
    if len(submitted) < 2:
        return math.nan
    alphabetical = {aid: rank for rank, aid in enumerate(sorted(submitted))}
    return spearman_rho([alphabetical[a] for a in submitted], [alphabetical[a] for a in gold_order])


def score_task3_official(submission: Sequence[Judgement], gold: Sequence[Judgement]) -> OfficialTask3Scores:
    """Score a submission exactly as the organisers' final evaluator does (see the module docstring)."""
    questions, accuracy, precision, mrr = _scan(submission, gold)
    rhos = []
    for gold_correct, hits in questions:
        submitted = [aid for _, aid in hits]
        rhos.append(spearman_of_id_strings(submitted, [a for a in gold_correct if a in submitted]))
    rhos = [rho for rho in rhos if not math.isnan(rho)]
    return OfficialTask3Scores(
        accuracy=accuracy,
        precision=precision,
        mrr=mrr,
        spearman=sum(rhos) / len(rhos) if rhos else 0.0,
        n_questions=len(questions),
        n_spearman_questions=len(rhos),
    )


def score_task3(submission: Sequence[Judgement], gold: Sequence[Judgement]) -> Task3Scores:
    """Our corrected scores of a submission against the gold standard (see the module docstring)."""
    questions, accuracy, precision, mrr = _scan(submission, gold)
    p1 = p5 = p10 = spearman_sum = 0.0
    ref5 = ref10 = spearman_n = 0
    for gold_correct, hits in questions:
        p1 += sum(position == 1 for position, _ in hits)
        p5 += sum(position <= 5 for position, _ in hits)
        p10 += sum(position <= 10 for position, _ in hits)
        ref5 += min(5, len(gold_correct))
        ref10 += min(10, len(gold_correct))
        if not gold_correct or len(hits) == 1:
            continue
        spearman_n += 1
        if hits:
            gold_rank = {aid: rank for rank, aid in enumerate(gold_correct)}
            spearman_sum += spearman_rho(list(range(len(hits))), [gold_rank[aid] for _, aid in hits])

    n_questions = len(questions)
    return Task3Scores(
        accuracy=accuracy,
        precision=precision,
        mrr=mrr,
        spearman=spearman_sum / spearman_n if spearman_n else 0.0,
        p_at_1=p1 / n_questions,
        p_at_5=p5 / ref5 if ref5 else 0.0,
        p_at_10=p10 / ref10 if ref10 else 0.0,
        n_questions=n_questions,
        n_answers=len(gold),
        n_spearman_questions=spearman_n,
    )


RANKING_METRICS_NOTE = (
    "official/*: as the MEDIQA 2019 organisers' final evaluator computes them, comparable with the leaderboard "
    "(its Spearman ranks answer-ID strings alphabetically and leaves out questions with fewer than two correct "
    "answers labelled 1). ranking_*: ours, the same accuracy, precision and MRR, but Spearman over submitted "
    "positions with a question whose correct answers are all labelled 0 counted as 0; plus P@1/5/10. With "
    "learned_ranking, both rank by the learned ranker; ranker_only/*: the accuracy and MRR of the score alone."
)


def ranking_metrics(submission: Sequence[Judgement], gold: Sequence[Judgement]) -> dict[str, float]:
    """Our corrected scores as `ranking_<name>` and the organisers' as `official/<name>`, in one flat dict."""
    ours = score_task3(submission, gold)
    official = score_task3_official(submission, gold)
    names = ("accuracy", "precision", "mrr", "spearman", "p_at_1", "p_at_5", "p_at_10")
    return {
        **{f"ranking_{name}": getattr(ours, name) for name in names},
        **{f"official/{name}": getattr(official, name) for name in ("accuracy", "precision", "mrr", "spearman")},
    }


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
