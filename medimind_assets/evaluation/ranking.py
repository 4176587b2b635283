"""Rank MEDIQA 2019 test candidate answers by the model's likelihood, the way Task 3 is scored.

Each question's candidates (every answer in `TestSet-wLabels.xml`, correct or not) are cleaned as training
answers are, cut to `max_answer_tokens`, and scored by the mean log-probability of the answer tokens given the
question in the training prompt (length-normalised, so long answers are not penalised for their length). The
ranking and labels become an official-format submission, scored with `mediqa_metrics.score_task3`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from medimind_assets.evaluation.likelihood import Log, score_encoded
from medimind_assets.evaluation.mediqa_metrics import (
    Judgement,
    Task3Scores,
    gold_from_questions,
    label_ranking,
    read_judgements,
    score_task3,
)
from medimind_assets.llm.encoding import encode_batch
from medimind_assets.llm.template import PromptTemplate


@dataclass(frozen=True)
class Candidate:
    answer_id: str
    text: str


@dataclass(frozen=True)
class RankingQuestion:
    question_id: str  # the MEDIQA QID, as in the official files
    text: str
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True)
class RankingTask:
    questions: list[RankingQuestion]
    gold: list[Judgement]


def load_ranking_task(
    labelled_xml: Path, max_questions: int | None = None, ground_truth: Path | None = None
) -> RankingTask:
    """Questions, cleaned candidates and the gold standard from the labelled test file.

    When the official ground-truth file is given, the gold standard derived from ReferenceScore/ReferenceRank
    must agree with it for the questions evaluated; a disagreement means the raw files are out of sync.
    """
    from medimind_assets.data.cleaning import clean_answer, clean_question
    from medimind_assets.data.mediqa import parse_mediqa_file

    parsed = parse_mediqa_file(Path(labelled_xml), require_scores=True)
    if max_questions is not None:
        parsed = parsed[:max_questions]
    questions = []
    for q in parsed:
        candidates = tuple(
            Candidate(a.aid, text) for a in q.answers if (text := clean_answer(a.text, strip_prefix=True))
        )
        if candidates:
            questions.append(RankingQuestion(q.qid, clean_question(q.text), candidates))
    if not questions:
        raise ValueError(f"{labelled_xml}: no question with a non-empty candidate answer")
    kept = {q.question_id for q in questions}
    gold = gold_from_questions(q for q in parsed if q.qid in kept)
    if ground_truth is not None and Path(ground_truth).is_file():
        official = [g for g in read_judgements(Path(ground_truth)) if g.question_id in kept]
        if official != gold:
            raise ValueError(
                f"{labelled_xml} and {ground_truth} disagree on the gold labels or order of the evaluated questions"
            )
    return RankingTask(questions=questions, gold=gold)


def score_candidates(
    model,
    tokenizer,
    task: RankingTask,
    template: PromptTemplate,
    *,
    max_answer_tokens: int = 256,
    max_prompt_tokens: int | None = 256,
    max_batch_tokens: int = 4096,
    max_batch_size: int = 16,
    log: Log | None = None,
    label: str = "ranking",
) -> dict[str, list[tuple[str, float]]]:
    """Per question id: (answer id, mean log-probability per answer token), in the file's answer order."""
    keys = [(q.question_id, c.answer_id) for q in task.questions for c in q.candidates]
    encoded = encode_batch(
        tokenizer,
        [template.prompt(q.text) for q in task.questions for _ in q.candidates],
        [template.completion(c.text) for q in task.questions for c in q.candidates],
        add_eos=False,
        max_completion_tokens=max_answer_tokens,
        max_prompt_tokens=max_prompt_tokens,
    )
    scores = score_encoded(
        model,
        encoded,
        pad_token_id=tokenizer.pad_token_id,
        max_batch_tokens=max_batch_tokens,
        max_batch_size=max_batch_size,
        log=log,
        label=label,
    )
    out: dict[str, list[tuple[str, float]]] = {q.question_id: [] for q in task.questions}
    for (qid, aid), score in zip(keys, scores, strict=True):
        out[qid].append((aid, score.mean_logprob))
    return out


def build_submission(scored: dict[str, Sequence[tuple[str, float]]], positive_fraction: float = 0.5) -> list[Judgement]:
    rows: list[Judgement] = []
    for qid, answers in scored.items():
        rows.extend(label_ranking(qid, answers, positive_fraction))
    return rows


def evaluate_ranking(submission: Sequence[Judgement], task: RankingTask) -> Task3Scores:
    return score_task3(submission, task.gold)
