"""Rank MEDIQA 2019 candidate answers with the model, the way Task 3 is scored.

Each question's candidates (every answer in a labelled file, correct or not) are cleaned as training answers are,
cut to `max_answer_tokens` and scored by one of the rankers (`settings.RANKERS`, docs/evaluation.md). For `pmi`,
the neutral prompt is the training template with an empty question (`Human: \nAssistant:`), so both terms score
the same answer tokens in the same assistant turn and only the question differs: the answer's own fluency, length
and genericity cancel out. Summed, not averaged: the sum is the answer's pointwise mutual information with the
question, and the subtraction already removes the length penalty that `mean_logprob` normalises away. For
`yes_no`, where " Yes" and " No" start with the same tokens, those are appended to the prompt and the first token
that differs is compared.

The forward passes are shared: one conditional pass gives `mean_logprob`, `sum_logprob` and the first term of
`pmi`/`mean_pmi`; the neutral pass scores each distinct answer text once. The ranking and labels become an
official-format submission, scored with `mediqa_metrics.score_task3`. Which ranker the test set is ranked with is
chosen on the validation set (benchmarks/compare_rankers.py), never on the test set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from medimind_assets.evaluation.likelihood import CompletionScore, Log, next_token_logprobs, score_encoded
from medimind_assets.evaluation.mediqa_metrics import (
    Judgement,
    Task3Scores,
    gold_from_questions,
    label_ranking,
    read_judgements,
    score_task3,
)
from medimind_assets.evaluation.settings import RANKERS
from medimind_assets.llm.encoding import encode_batch, encode_ids
from medimind_assets.llm.template import PromptTemplate

# The question put to the model for `yes_no`, inside the training prompt; {answer} is the cut answer.
RELEVANCE_PROMPT = "Question: {question}\nAnswer:{answer}\nDoes this answer the question? Reply Yes or No."


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
    labelled_xml: Path, max_questions: int | None = None, ground_truth: Path | None = None, every_question: bool = False
) -> RankingTask:
    """Questions, cleaned candidates and the gold standard from the labelled test file.

    When the official ground-truth file is given, the gold standard derived from ReferenceScore/ReferenceRank
    must agree with it for the questions evaluated; a disagreement means the raw files are out of sync. With
    `every_question` (the test set), a question none of whose candidates has text is refused: left out, it would
    turn the official metrics, which count every question, into numbers of our own. Otherwise (the labelled
    training files the learned ranker is fitted on) it is left out.
    """
    from medimind_assets.data.cleaning import clean_answer, clean_question
    from medimind_assets.data.mediqa import parse_mediqa_file

    parsed = parse_mediqa_file(Path(labelled_xml), require_scores=True)[:max_questions]  # None: all
    questions = []
    for q in parsed:
        candidates = tuple(
            Candidate(a.aid, text) for a in q.answers if (text := clean_answer(a.text, strip_prefix=True))
        )
        if candidates:
            questions.append(RankingQuestion(q.qid, clean_question(q.text), candidates))
        elif every_question:
            raise ValueError(
                f"{labelled_xml}: question {q.qid} has no candidate answer with text; the official metrics count "
                "every question (restore the file)"
            )
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


def load_labelled_files(files: Mapping[str, Path]) -> RankingTask:
    """Several labelled MEDIQA files as one task, each question and answer ID prefixed with its file's name
    (`LiveQAMed:1`): the training files both number their questions from 1 and their answers `1_Answer1`."""
    questions, gold = [], []
    for name, path in files.items():
        task = load_ranking_task(Path(path))
        questions += [
            RankingQuestion(
                f"{name}:{q.question_id}",
                q.text,
                tuple(replace(c, answer_id=f"{name}:{c.answer_id}") for c in q.candidates),
            )
            for q in task.questions
        ]
        gold += [Judgement(f"{name}:{g.question_id}", f"{name}:{g.answer_id}", g.label) for g in task.gold]
    return RankingTask(questions, gold)


@dataclass(frozen=True)
class CandidateScores:
    """What the forward passes measured for one candidate (None: that pass was not needed)."""

    conditional: CompletionScore | None = None  # the answer given the question
    unconditional: CompletionScore | None = None  # the same answer tokens given the neutral prompt
    relevance: float | None = None  # log P(Yes) - log P(No)


def _pmi(s: CandidateScores) -> float:
    return s.conditional.logprob_sum - s.unconditional.logprob_sum


RANKER_SCORES: dict[str, Callable[[CandidateScores], float]] = {
    "mean_logprob": lambda s: s.conditional.mean_logprob,
    "sum_logprob": lambda s: s.conditional.logprob_sum,
    "pmi": _pmi,
    "mean_pmi": lambda s: _pmi(s) / s.conditional.n_tokens,
    "yes_no": lambda s: s.relevance,
}
RANKER_PASSES: dict[str, frozenset[str]] = {
    "mean_logprob": frozenset({"conditional"}),
    "sum_logprob": frozenset({"conditional"}),
    "pmi": frozenset({"conditional", "unconditional"}),
    "mean_pmi": frozenset({"conditional", "unconditional"}),
    "yes_no": frozenset({"relevance"}),
}


@dataclass(frozen=True)
class _Scoring:
    """The model and the bounds a pass needs; `batching`: the keywords `score_encoded` and `next_token_logprobs`
    take (the pad token, the batch bounds, the log and the pass's label)."""

    model: object
    tokenizer: object
    template: PromptTemplate
    max_answer_tokens: int
    max_prompt_tokens: int | None
    batching: dict[str, Any]

    def answer_ids(self, texts: Sequence[str]) -> list[list[int]]:
        ids = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [row[: self.max_answer_tokens] for row in ids]


def neutral_prompt_ids(tokenizer, template: PromptTemplate) -> list[int]:
    """The prompt `pmi` subtracts: the template with an empty question (BOS, or EOS, when that is empty)."""
    if ids := tokenizer(template.prompt(""), add_special_tokens=False)["input_ids"]:
        return ids
    fallback = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if fallback is None:
        raise ValueError("the template's prompt is empty without a question and the tokenizer has no BOS or EOS")
    return [fallback]


def _conditional(scoring: _Scoring, pairs: list[tuple[RankingQuestion, Candidate]]) -> list[CompletionScore]:
    template = scoring.template
    encoded = encode_batch(
        scoring.tokenizer,
        [template.prompt(q.text) for q, _ in pairs],
        [template.completion(c.text) for _, c in pairs],
        add_eos=False,
        max_completion_tokens=scoring.max_answer_tokens,
        max_prompt_tokens=scoring.max_prompt_tokens,
    )
    return score_encoded(scoring.model, encoded, **scoring.batching)


def _unconditional(scoring: _Scoring, pairs: list[tuple[RankingQuestion, Candidate]]) -> list[CompletionScore]:
    """Each distinct answer text scored once after the neutral prompt (answers recur across questions)."""
    texts = list(dict.fromkeys(c.text for _, c in pairs))
    prompt = neutral_prompt_ids(scoring.tokenizer, scoring.template)
    completions = scoring.answer_ids([scoring.template.completion(t) for t in texts])
    encoded = [encode_ids(prompt, ids, None, add_eos=False) for ids in completions]
    by_text = dict(zip(texts, score_encoded(scoring.model, encoded, **scoring.batching), strict=True))
    return [by_text[c.text] for _, c in pairs]


def _first_difference(yes: list[int], no: list[int]) -> tuple[list[int], int, int]:
    """The tokens " Yes" and " No" share (their probability cancels out) and the first token of each after them."""
    shared = next((i for i, (y, n) in enumerate(zip(yes, no, strict=False)) if y != n), None)
    if shared is None:
        raise ValueError(f"' Yes' ({yes}) and ' No' ({no}) do not differ in a token: yes_no cannot tell them apart")
    return yes[:shared], yes[shared], no[shared]


def _relevance(scoring: _Scoring, pairs: list[tuple[RankingQuestion, Candidate]]) -> list[float]:
    tokenizer, template = scoring.tokenizer, scoring.template
    shared, yes, no = _first_difference(
        *(tokenizer(template.completion(w), add_special_tokens=False)["input_ids"] for w in ("Yes", "No"))
    )
    sentinel = "\x00"
    head_tail = [
        template.prompt(RELEVANCE_PROMPT.replace("{answer}", sentinel).replace("{question}", q.text)).split(sentinel)
        for q, _ in pairs
    ]
    heads = tokenizer([h for h, _ in head_tail], add_special_tokens=False, verbose=False)["input_ids"]
    tails = tokenizer([t for _, t in head_tail], add_special_tokens=False, verbose=False)["input_ids"]
    answers = scoring.answer_ids([" " + c.text for _, c in pairs])
    keep = scoring.max_prompt_tokens
    sequences = [
        (head[-keep:] if keep else head) + answer + tail + shared
        for head, answer, tail in zip(heads, answers, tails, strict=True)
    ]
    logprobs = next_token_logprobs(scoring.model, sequences, [yes, no], **scoring.batching)
    return [p_yes - p_no for p_yes, p_no in logprobs]


def score_rankers(
    model,
    tokenizer,
    task: RankingTask,
    template: PromptTemplate,
    rankers: Iterable[str] = tuple(RANKERS),
    *,
    max_answer_tokens: int = 256,
    max_prompt_tokens: int | None = 256,
    max_batch_tokens: int = 4096,
    max_batch_size: int = 16,
    log: Log | None = None,
    label: str = "ranking",
) -> dict[str, dict[str, list[tuple[str, float]]]]:
    """Per ranker, per question id: (answer id, score), in the file's answer order. Only the passes the rankers
    need are run, each once."""
    rankers = list(dict.fromkeys(rankers))
    if not rankers or any(r not in RANKERS for r in rankers):
        raise ValueError(f"rankers must be among {', '.join(RANKERS)}, got {rankers}")
    pairs = [(q, c) for q in task.questions for c in q.candidates]
    passes = frozenset().union(*(RANKER_PASSES[r] for r in rankers))
    measured: dict[str, list] = {}
    for name, run in (("conditional", _conditional), ("unconditional", _unconditional), ("relevance", _relevance)):
        if name in passes:
            batching = {"pad_token_id": tokenizer.pad_token_id, "max_batch_tokens": max_batch_tokens}
            batching |= {"max_batch_size": max_batch_size, "log": log, "label": f"{label}, {name} pass"}
            scoring = _Scoring(model, tokenizer, template, max_answer_tokens, max_prompt_tokens, batching)
            measured[name] = run(scoring, pairs)
    out = {ranker: {q.question_id: [] for q in task.questions} for ranker in rankers}
    for (q, c), values in zip(pairs, zip(*measured.values(), strict=True), strict=True):
        scores = CandidateScores(**dict(zip(measured, values, strict=True)))
        for ranker in rankers:
            out[ranker][q.question_id].append((c.answer_id, RANKER_SCORES[ranker](scores)))
    return out


def score_candidates(
    model, tokenizer, task: RankingTask, template: PromptTemplate, *, ranker: str = "mean_logprob", **scoring
) -> dict[str, list[tuple[str, float]]]:
    """Per question id: (answer id, the ranker's score), in the file's answer order."""
    return score_rankers(model, tokenizer, task, template, [ranker], **scoring)[ranker]


def build_submission(scored: dict[str, Sequence[tuple[str, float]]], positive_fraction: float = 0.5) -> list[Judgement]:
    return [row for qid, answers in scored.items() for row in label_ranking(qid, answers, positive_fraction)]


def evaluate_ranking(submission: Sequence[Judgement], task: RankingTask) -> Task3Scores:
    return score_task3(submission, task.gold)
