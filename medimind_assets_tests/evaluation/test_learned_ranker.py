"""The learned ranker: its features, its fit, and what it is worth on the real MEDIQA files without a model."""

from __future__ import annotations

import math

import pytest

from medimind_assets.evaluation.learned_ranker import (
    FEATURES,
    QuestionScores,
    fit_on_labelled,
    fit_ranker,
    question_features,
    question_scores,
    rerank,
)
from medimind_assets.evaluation.mediqa_metrics import Judgement


def test_features_follow_chiqa_order_and_standardise_the_model_score_within_the_question():
    rows = question_features(
        "What causes kidney stones?",
        ["Kidney stones form when urine holds crystals.", "Call us today.", "Stones, kidney, causes."],
        [-1.0, -3.0, -2.0],
    )
    model, retrieval, overlap, length = zip(*rows, strict=True)
    assert retrieval == (0.0, -math.log(2), -math.log(3))
    assert model[0] > model[2] > model[1]
    assert sum(model) == pytest.approx(0.0) and sum(m * m for m in model) == pytest.approx(3.0)
    # "what" is a content word by the rule (three letters or more), so 3 of 4 question words reach the third answer
    assert overlap == (pytest.approx(2 / 4), 0.0, pytest.approx(3 / 4))
    assert length[1] == pytest.approx(math.log1p(2))  # "us" is too short to count
    # A question whose candidates the model scores alike carries no model signal, not a division by zero
    assert [r[0] for r in question_features("q", ["a", "b"], [2.0, 2.0])] == [0.0, 0.0]


def test_features_refuse_a_score_per_answer_mismatch():
    with pytest.raises(ValueError, match="2 answers but 1 model scores"):
        question_features("q", ["a", "b"], [1.0])


def _questions(n: int, signal: str) -> tuple[list[QuestionScores], list[Judgement]]:
    """Questions of 6 candidates; the correct ones are those the `signal` feature points at."""
    questions, gold = [], []
    for q in range(n):
        correct = {(q + k) % 6 for k in range(2)}
        scores = tuple(1.0 if (signal == "model" and i in correct) else 0.0 for i in range(6))
        answers = tuple("answer words here" for _ in range(6))
        if signal == "retrieval":
            correct = {0, 1}
        ids = tuple(f"{q}_{i}" for i in range(6))
        questions.append(QuestionScores(str(q), "a question", ids, answers, scores))
        gold += [Judgement(str(q), ids[i], int(i in correct)) for i in range(6)]
    return questions, gold


@pytest.mark.parametrize("signal", ["model", "retrieval"])
def test_the_fit_puts_its_weight_on_the_feature_that_separates_the_labels(signal: str):
    questions, gold = _questions(30, signal)
    ranker = fit_on_labelled(questions, gold)
    weights = dict(zip(FEATURES, ranker.weights, strict=True))
    assert weights[signal] == max(weights.values()) > 1.0
    assert (ranker.n_examples, ranker.n_positive) == (180, 60)
    scored = rerank(ranker, questions)
    labels = {(g.question_id, g.answer_id): g.label for g in gold}
    for qid, answers in scored.items():
        top = sorted(answers, key=lambda a: -a[1])[:2]
        assert all(labels[(qid, aid)] for aid, _ in top)
    assert fit_on_labelled(questions, gold) == ranker  # deterministic


def test_the_fit_refuses_labels_it_cannot_learn_from():
    questions, gold = _questions(3, "model")
    with pytest.raises(ValueError, match="both correct and incorrect"):
        fit_ranker([q for q in questions[0].features()], [1] * 6)
    with pytest.raises(ValueError, match="question 0, answer 0_0: no gold label"):
        fit_on_labelled(questions, gold[1:])


def test_fitted_on_the_real_training_files_retrieval_rank_and_word_overlap_count_for_an_answer(shared_data):
    """On the 1,701 labelled training answers, with no model score: CHiQA's first answers and the answers sharing
    the question's words are the correct ones more often (the weights a model's score is added to). Both files
    number their questions from 1 and their answers `1_Answer1`: loaded together, each keeps its own."""
    from medimind_assets.data import mediqa
    from medimind_assets.data.sources import MEDIQA
    from medimind_assets.evaluation.ranking import load_labelled_files

    folder = shared_data / MEDIQA / mediqa.TASK_DIR
    train = load_labelled_files({tag: folder / mediqa.TRAINING_FILES[tag] for tag in mediqa.TRAIN_SPLIT_TAGS})
    assert len({q.question_id for q in train.questions}) == len(train.questions) == 208
    assert train.questions[0].question_id == "LiveQAMed:1" and train.questions[104].question_id == "Alexa:1"
    assert train.questions[104].candidates[0].answer_id == "Alexa:1_Answer1"
    flat = question_scores(train, {q.question_id: [(c.answer_id, 0.0) for c in q.candidates] for q in train.questions})
    ranker = fit_on_labelled(flat, train.gold)
    assert (ranker.n_examples, ranker.n_positive) == (1701, 634)
    weights = dict(zip(FEATURES, ranker.weights, strict=True))
    assert weights["model"] == 0.0  # no signal: every question's scores are equal
    assert weights["retrieval"] > 0.3 and weights["overlap"] > 0.1


@pytest.mark.parametrize(
    "tags",
    [("LiveQAMed", "Alexa"), ("LiveQAMed", "LiveQAMed-again"), ("Validation", "TestSet", "Alexa")],
)
def test_labelled_files_loaded_together_keep_every_question_and_label_of_each(sample_data, tags):
    """Any labelled MEDIQA files, even the same file twice: every question and answer stays its own, with its own
    gold label, however the files number them."""
    from medimind_assets.data import mediqa
    from medimind_assets.data.sources import MEDIQA
    from medimind_assets.evaluation.ranking import load_labelled_files, load_ranking_task

    folder = sample_data / MEDIQA / mediqa.TASK_DIR
    files = {**mediqa.TRAINING_FILES, "TestSet": mediqa.TEST_LABELLED_FILE}
    paths = {tag: folder / files[tag.removesuffix("-again")] for tag in tags}
    merged = load_labelled_files(paths)
    alone = {tag: load_ranking_task(path) for tag, path in paths.items()}
    assert len(merged.questions) == sum(len(t.questions) for t in alone.values())
    assert len({q.question_id for q in merged.questions}) == len(merged.questions)
    answers = [(q.question_id, c.answer_id) for q in merged.questions for c in q.candidates]
    assert len(set(answers)) == len(answers) == len(merged.gold)
    labels = {(g.question_id, g.answer_id): g.label for g in merged.gold}
    for tag, task in alone.items():
        for g in task.gold:
            assert labels[(f"{tag}:{g.question_id}", f"{tag}:{g.answer_id}")] == g.label
