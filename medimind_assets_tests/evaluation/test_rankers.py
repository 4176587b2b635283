"""The rankers on tiny-phi against direct computations; the validation comparison (benchmarks/compare_rankers.py); the
test set ranked with the chosen ranker."""

from __future__ import annotations

import pytest
import torch

from benchmarks.compare_rankers import best_ranker, compare_rankers, ranker_table
from medimind_assets.data.mediqa import TRAIN_SPLIT_TAGS, TRAINING_FILES
from medimind_assets.evaluation.likelihood import next_token_logprobs
from medimind_assets.evaluation.mediqa_metrics import Task3Scores
from medimind_assets.evaluation.ranking import (
    RANKER_PASSES,
    RANKER_SCORES,
    build_submission,
    evaluate_ranking,
    load_labelled_files,
    load_ranking_task,
    neutral_prompt_ids,
    score_candidates,
    score_rankers,
)
from medimind_assets.evaluation.runner import evaluate_adapter
from medimind_assets.evaluation.settings import RANKERS, EvaluationSettings
from medimind_assets.llm.loading import attach_adapter, load_for_inference, load_tokenizer
from medimind_assets.llm.template import PromptTemplate
from medimind_assets_tests.evaluation.test_likelihood_and_generation import direct_nll
from medimind_assets_tests.model_world import TEST_XML, VALIDATION_GROUND_TRUTH, VALIDATION_XML

CAP = 12


@pytest.fixture(scope="module")
def loaded(world):
    tokenizer = load_tokenizer(world.base_dir)
    model = attach_adapter(load_for_inference(world.base_dir, "cpu"), world.trained_adapter)
    return model, tokenizer


@pytest.fixture(scope="module")
def scored(world, loaded):
    model, tokenizer = loaded
    task = load_ranking_task(world.raw_dir / TEST_XML, max_questions=2)
    # A small token budget forces several padded batches.
    scores = score_rankers(
        model, tokenizer, task, PromptTemplate(), max_answer_tokens=CAP, max_batch_tokens=64, max_batch_size=3
    )
    return task, scores


def test_every_ranker_has_its_score_and_its_passes():
    assert RANKER_SCORES.keys() == RANKER_PASSES.keys() == RANKERS.keys()
    assert {"mean_logprob", "pmi"} <= RANKERS.keys()


def test_every_ranker_scores_every_candidate_in_file_order(scored):
    task, scores = scored
    assert list(scores) == list(RANKERS)
    for by_question in scores.values():
        assert list(by_question) == [q.question_id for q in task.questions]
        for question in task.questions:
            assert [aid for aid, _ in by_question[question.question_id]] == [c.answer_id for c in question.candidates]


def test_conditional_rankers_come_from_one_pass(world, loaded, scored):
    model, tokenizer = loaded
    task, scores = scored
    template = PromptTemplate()
    alone = score_candidates(model, tokenizer, task, template, ranker="mean_logprob", max_answer_tokens=CAP)
    question = task.questions[1]
    for (aid, mean), (_, total), (_, single) in zip(
        scores["mean_logprob"]["2"], scores["sum_logprob"]["2"], alone["2"], strict=True
    ):
        candidate = next(c for c in question.candidates if c.answer_id == aid)
        nll, n = direct_nll(
            model, tokenizer, template.prompt(question.text), template.completion(candidate.text), False, CAP
        )
        assert n == CAP
        assert total == pytest.approx(-nll, rel=1e-4)
        assert mean == pytest.approx(-nll / n, rel=1e-4) and single == pytest.approx(mean, rel=1e-5)


def test_pmi_is_the_conditional_minus_the_unconditional_log_likelihood(world, loaded, scored):
    model, tokenizer = loaded
    task, scores = scored
    template = PromptTemplate()
    neutral = template.prompt("")
    assert neutral == "Human: \nAssistant:"  # the training prompt without a question
    assert neutral_prompt_ids(tokenizer, template) == tokenizer(neutral, add_special_tokens=False)["input_ids"]
    question = task.questions[0]
    for candidate, (aid, pmi), (_, mean_pmi) in zip(
        question.candidates, scores["pmi"]["1"], scores["mean_pmi"]["1"], strict=True
    ):
        assert aid == candidate.answer_id
        completion = template.completion(candidate.text)
        conditional, n = direct_nll(model, tokenizer, template.prompt(question.text), completion, False, CAP)
        unconditional, _ = direct_nll(model, tokenizer, neutral, completion, False, CAP)
        assert pmi == pytest.approx(unconditional - conditional, rel=1e-4, abs=1e-4)
        assert mean_pmi == pytest.approx((unconditional - conditional) / n, rel=1e-4, abs=1e-5)


def test_an_empty_neutral_prompt_falls_back_to_a_special_token(loaded):
    _, tokenizer = loaded
    bare = PromptTemplate("{instruction}{response}")
    expected = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    assert neutral_prompt_ids(tokenizer, bare) == [expected]


def test_next_token_logprobs_equal_one_unpadded_pass_each(loaded):
    model, tokenizer = loaded
    sequences = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in ("What is gout?", "Hi", "Is eczema bad")]
    wanted = [5, 17, 42]
    batched = next_token_logprobs(model, sequences, wanted, pad_token_id=tokenizer.pad_token_id, max_batch_size=3)
    for ids, values in zip(sequences, batched, strict=True):
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
        expected = torch.log_softmax(logits.float(), dim=-1)[wanted].tolist()
        assert values == pytest.approx(expected, abs=1e-4)


def test_yes_no_does_not_depend_on_batching(world, loaded, scored):
    model, tokenizer = loaded
    task, scores = scored
    one_by_one = score_candidates(
        model, tokenizer, task, PromptTemplate(), ranker="yes_no", max_answer_tokens=CAP, max_batch_size=1
    )
    for qid, answers in one_by_one.items():
        assert [s for _, s in answers] == pytest.approx([s for _, s in scores["yes_no"][qid]], abs=1e-4)


def test_unknown_rankers_are_refused(world, loaded):
    model, tokenizer = loaded
    task = load_ranking_task(world.raw_dir / TEST_XML, max_questions=1)
    with pytest.raises(ValueError, match="rankers must be among"):
        score_rankers(model, tokenizer, task, PromptTemplate(), ["bm25"])
    with pytest.raises(ValueError, match="ranker must be one of"):
        EvaluationSettings(ranker="bm25")
    with pytest.raises(ValueError, match="ranking_tolerance"):
        EvaluationSettings(ranking_tolerance=-0.1)


def test_the_validation_comparison_scores_every_ranker(world, loaded):
    model, tokenizer = loaded
    task = load_ranking_task(world.raw_dir / VALIDATION_XML, ground_truth=world.raw_dir / VALIDATION_GROUND_TRUTH)
    compared = compare_rankers(model, tokenizer, task, PromptTemplate(), max_answer_tokens=CAP)
    assert list(compared) == list(RANKERS)
    for scores in compared.values():
        assert isinstance(scores, Task3Scores)
        assert scores.n_questions == 3 and scores.n_answers == 12
        assert 0.0 <= scores.accuracy <= 1.0 and 0.0 <= scores.mrr <= 1.0


def test_the_best_ranker_is_chosen_by_accuracy_then_mrr():
    scores = {
        "mean_logprob": {"accuracy": 0.55, "mrr": 0.9},
        "pmi": {"accuracy": 0.60, "mrr": 0.7},
        "mean_pmi": {"accuracy": 0.60, "mrr": 0.8},
    }
    assert best_ranker(scores) == "mean_pmi"
    assert best_ranker({"b": {"accuracy": 0.5, "mrr": 0.5}, "a": {"accuracy": 0.5, "mrr": 0.5}}) == "a"


def test_the_ranker_table_lists_each_model_and_ranker():
    row = {"accuracy": 0.5, "mrr": 0.75, "precision": 0.5, "spearman": -0.125, "p_at_1": 1.0}
    table = ranker_table({"base": {"pmi": row, "yes_no": row}, "adapter": {"pmi": row}}, chosen="pmi")
    lines = table.splitlines()
    assert lines[0] == "| model | ranker | accuracy | MRR | precision | Spearman |"
    assert lines[2] == "| base | **pmi** | 0.500 | 0.750 | 0.500 | -0.125 |"
    assert lines[3].startswith("| base | yes_no |") and lines[4].startswith("| adapter | **pmi** |")


def _ranking_only(ranker: str, **settings) -> EvaluationSettings:
    """Settings that measure the ranking and the loss, nothing generated."""
    return EvaluationSettings(
        ranker=ranker,
        generation_sample=0,
        require_generation=False,
        max_safety_questions=0,
        require_safety=False,
        ranking_max_answer_tokens=CAP,
        **settings,
    )


def test_the_test_set_is_ranked_with_the_chosen_ranker(world, loaded):
    model, tokenizer = loaded
    settings = _ranking_only("sum_logprob", learned_ranking=False)
    task = load_ranking_task(world.raw_dir / TEST_XML)
    report = evaluate_adapter(
        world.base_dir, world.trained_adapter, world.dataset, PromptTemplate(), settings, ranking=task
    )
    expected = score_candidates(model, tokenizer, task, PromptTemplate(), ranker="sum_logprob", max_answer_tokens=CAP)
    assert report.submissions["adapter"] == build_submission(expected, settings.positive_fraction)
    assert "eos_rate" not in report.metrics["adapter"]
    assert any("no generated answers: EOS rate not compared" in r for r in report.gate.reasons)


def test_with_learned_ranking_both_models_are_ranked_by_one_fit_on_the_base_models_training_scores(world, loaded):
    """The base model (which saw none of the training answers) scores the labelled training candidates; the fit
    on them ranks the test candidates of both models; the weights are in the report (and read back)."""
    from medimind_assets.evaluation.learned_ranker import fit_on_labelled, question_scores, rerank
    from medimind_assets.evaluation.runner import EvaluationReport

    model, tokenizer = loaded
    settings = _ranking_only("mean_logprob", learned_ranking=True)
    task = load_ranking_task(world.raw_dir / TEST_XML)
    folder = (world.raw_dir / TEST_XML).parent
    fit = load_labelled_files({tag: folder / TRAINING_FILES[tag] for tag in TRAIN_SPLIT_TAGS})
    report = evaluate_adapter(
        world.base_dir, world.trained_adapter, world.dataset, PromptTemplate(), settings, ranking=task, fit=fit
    )

    def scores(on):
        return score_candidates(model, tokenizer, on, PromptTemplate(), ranker="mean_logprob", max_answer_tokens=CAP)

    with model.disable_adapter():
        ranker = fit_on_labelled(question_scores(fit, scores(fit)), fit.gold)
        base = scores(task)
    adapter = scores(task)
    assert report.learned_ranker == ranker.as_dict()
    assert report.learned_ranker["n_examples"] == len(fit.gold) == report.counts["fit_answers"]
    for name, own in (("base", base), ("adapter", adapter)):
        learned = build_submission(rerank(ranker, question_scores(task, own)), settings.positive_fraction)
        assert report.submissions[name] == learned
    assert report.submissions["adapter"] != build_submission(adapter, settings.positive_fraction)
    assert "learned_ranker_fit_s" in report.timings
    alone = evaluate_ranking(build_submission(adapter, settings.positive_fraction), task)
    assert report.metrics["adapter"]["ranker_only/accuracy"] == alone.accuracy
    assert EvaluationReport.from_json(report.as_json()).learned_ranker == report.learned_ranker


def test_a_test_question_with_no_candidate_text_is_refused_not_left_out(world, tmp_path):
    """Left out, the official accuracy and MRR would be computed over fewer questions than the ground truth has."""
    import re

    xml = (world.raw_dir / TEST_XML).read_text(encoding="utf-8")
    second = [m.start() for m in re.finditer(r"<Question ", xml)][1]
    end = xml.index("</Question>", second)
    emptied = re.sub(r"<AnswerText>.*?</AnswerText>", "<AnswerText></AnswerText>", xml[second:end], flags=re.DOTALL)
    broken = tmp_path / "test.xml"
    broken.write_text(xml[:second] + emptied + xml[end:], encoding="utf-8")
    with pytest.raises(ValueError, match="has no candidate answer with text; the official metrics count every"):
        load_ranking_task(broken, every_question=True)
    assert len(load_ranking_task(broken).questions) == len(load_ranking_task(world.raw_dir / TEST_XML).questions) - 1
