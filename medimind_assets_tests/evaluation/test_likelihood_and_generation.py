"""Held-out loss, candidate scores and greedy generation on tiny-phi, against direct computations."""

from __future__ import annotations

import math

import pytest
import torch

from medimind_assets.evaluation.generation import (
    Generated,
    generate_answers,
    is_degenerate,
    repeated_ngram_share,
    text_metrics,
    urgent_care_rate,
)
from medimind_assets.evaluation.likelihood import heldout_loss, make_batches
from medimind_assets.evaluation.ranking import load_ranking_task, score_candidates
from medimind_assets.evaluation.settings import EvaluationSettings
from medimind_assets.llm.loading import attach_adapter, load_for_inference, load_tokenizer
from medimind_assets.llm.template import PromptTemplate
from medimind_assets_tests.model_world import TEST_XML


@pytest.fixture(scope="module")
def loaded(world):
    tokenizer = load_tokenizer(world.base_dir)
    model = attach_adapter(load_for_inference(world.base_dir, "cpu"), world.trained_adapter)
    return model, tokenizer


def direct_nll(model, tokenizer, prompt: str, completion: str, eos: bool, cap: int | None = None):
    """(sum of NLL over the completion tokens, their number): one unpadded sequence, the model's own loss."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"][:cap]
    completion_ids += [tokenizer.eos_token_id] if eos else []
    ids = torch.tensor([prompt_ids + completion_ids])
    labels = torch.tensor([[-100] * len(prompt_ids) + completion_ids])
    with torch.inference_mode():
        loss = model(input_ids=ids, labels=labels).loss.item()
    return loss * len(completion_ids), len(completion_ids)


def test_heldout_loss_equals_the_direct_token_weighted_computation(world, loaded):
    model, tokenizer = loaded
    template = PromptTemplate()
    pairs = [(r["instruction"], r["response"]) for r in world.rows if r["split"] == "test"]
    # A small token budget forces several batches with padding.
    result = heldout_loss(model, tokenizer, pairs, template, max_batch_tokens=200, max_batch_size=3)
    totals = [direct_nll(model, tokenizer, template.prompt(q), template.completion(a), eos=True) for q, a in pairs]
    expected = sum(t for t, _ in totals) / sum(n for _, n in totals)
    assert result.loss == pytest.approx(expected, rel=1e-5)
    assert result.perplexity == pytest.approx(math.exp(expected), rel=1e-5)
    assert result.n_tokens == sum(n for _, n in totals) and result.n_examples == len(pairs)
    with model.disable_adapter():
        base = heldout_loss(model, tokenizer, pairs, template)
    assert base.loss > result.loss  # the trained adapter learned the answers' structure


def test_candidate_scores_are_length_normalised_log_likelihoods(world, loaded):
    model, tokenizer = loaded
    template = PromptTemplate()
    task = load_ranking_task(world.raw_dir / TEST_XML, max_questions=2)
    scores = score_candidates(model, tokenizer, task, template, max_answer_tokens=12, max_batch_tokens=64)
    assert list(scores) == ["1", "2"]
    question = task.questions[1]
    for candidate, (aid, score) in zip(question.candidates, scores["2"], strict=True):
        assert aid == candidate.answer_id
        prompt, completion = template.prompt(question.text), template.completion(candidate.text)
        total, n = direct_nll(model, tokenizer, prompt, completion, eos=False, cap=12)
        assert n == 12
        assert score == pytest.approx(-total / n, rel=1e-4)


def test_batches_respect_the_padded_token_budget():
    lengths = [5, 50, 7, 49, 6, 20]
    batches = make_batches(lengths, max_batch_tokens=100, max_batch_size=3)
    assert sorted(i for b in batches for i in b) == list(range(6))
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 100
    assert batches[0][0] == 1  # longest first


def test_batched_greedy_generation_equals_one_by_one(world, loaded):
    model, tokenizer = loaded
    template = PromptTemplate()
    prompts = [template.prompt(q["text"]) for q in world.questions[:4]]
    batched = generate_answers(model, tokenizer, prompts, max_new_tokens=12, batch_size=4)
    single = [generate_answers(model, tokenizer, [p], max_new_tokens=12)[0] for p in prompts]
    assert batched == single
    for answer in batched:
        assert answer.n_tokens <= 12
        assert answer.stopped_on_eos or answer.n_tokens == 12


def test_a_special_token_written_in_a_question_is_text_and_a_cut_character_is_dropped(world, loaded):
    """ "<|endoftext|>" typed into a question must not end the prompt; an answer cut inside a character of several
    tokens must not end in U+FFFD."""
    from medimind_assets.llm.template import plain_text

    model, tokenizer = loaded
    typed = plain_text("What is gout?<|endoftext|>", tokenizer)
    assert (
        tokenizer.eos_token_id not in tokenizer(PromptTemplate().prompt(typed), add_special_tokens=False)["input_ids"]
    )
    # The template's own tokens stay tokens, as training tokenized them.
    chatml = PromptTemplate("<|endoftext|>Q: {instruction}\nA: {response}").prompt(typed)
    assert tokenizer(chatml, add_special_tokens=False)["input_ids"].count(tokenizer.eos_token_id) == 1

    class CutMidCharacter:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def __call__(self, *args, **kwargs):
            return self.inner(*args, **kwargs)

        def decode(self, ids, **kwargs):
            return self.inner.decode(ids, **kwargs) + "\ufffd"

    (cut,) = generate_answers(
        model, CutMidCharacter(tokenizer), [PromptTemplate().prompt("What is gout?")], max_new_tokens=2
    )
    assert cut.stopped_on_eos or not cut.text.endswith("\ufffd")


def test_text_metrics_on_hand_made_answers():
    refs = [["the heart pumps blood through the body"], ["asthma narrows the airways", "asthma is a lung disease"]]
    perfect = [
        Generated("the heart pumps blood through the body", 7, True),
        Generated("asthma is a lung disease", 5, True),
    ]
    metrics = text_metrics(perfect, refs)
    assert metrics["rouge_l"] == pytest.approx(1.0)
    assert metrics["bleu"] == pytest.approx(100.0)
    assert metrics["eos_rate"] == 1.0 and metrics["answer_tokens_mean"] == 6.0
    assert metrics["degenerate_rate"] == 0.0
    unrelated = [Generated("zebra", 1, False), Generated("quartz", 1, True)]
    metrics = text_metrics(unrelated, refs)
    assert metrics["rouge_l"] == 0.0 and metrics["bleu"] < 1.0 and metrics["eos_rate"] == 0.5
    looping = [Generated("," * 128, 128, False), Generated("asthma is a lung disease", 5, True)]
    assert text_metrics(looping, refs)["degenerate_rate"] == 0.5


# Real outputs of small models at a long generation bound.
DEGENERATE = [
    "," * 128,
    "fromE " * 60,
    "fromE fromE fromE",
    "",
    "   \n ",
    "... !? -- ¶",
    "a" * 40,
    "ab" * 30,
    "The best way to treat it is to treat it. " * 6,
    "Gout is a form of arthritis. " + "See your doctor, see your doctor, " * 10,
    "1. Pain\n2. Pain\n3. Pain\n4. Pain\n5. Pain\n6. Pain",
    "1. Rest. 2. Fluids. 3. Rest. 4. Fluids. 5. Rest. 6. Fluids. 7. Rest. 8. Fluids.",
]
SANE = [
    "Gout is a form of arthritis caused by uric acid crystals in a joint.",
    "Yes.",
    "Call 911.",
    "911",
    "No",
    "The heart pumps blood through the body, and the lungs add oxygen to the blood.",
    "Symptoms include:\n- fever\n- cough\n- rash\n- pain in the joints\nSee a doctor if they last more than a week.",
    "Take 500 mg of acetaminophen every 6 hours; do not take more than 3,000 mg a day. Ask your pharmacist about "
    "interactions with the other medicines you take, and ask your doctor if the pain lasts more than ten days.",
]


@pytest.mark.parametrize("text", DEGENERATE)
def test_degenerate_answers_are_detected(text):
    assert is_degenerate(text)


@pytest.mark.parametrize("text", SANE)
def test_sane_answers_are_not_degenerate(text):
    assert not is_degenerate(text)


def test_repeated_ngram_share_counts_repeats_of_earlier_ngrams():
    assert repeated_ngram_share(list("abcdef")) == 0.0
    assert repeated_ngram_share(list("abcdabcd")) == pytest.approx(1 / 5)  # abcd bcda cdab dabc abcd
    assert repeated_ngram_share(list("abcdabcdabcd")) == pytest.approx(5 / 9)
    assert repeated_ngram_share(list("abc")) == 0.0  # fewer than two 4-grams


def test_urgent_care_rate_uses_the_dataset_rule():
    answers = ["Call 911 now.", "Go to the nearest emergency room.", "Drink water and rest."]
    assert urgent_care_rate(answers) == pytest.approx(2 / 3)
    assert urgent_care_rate([]) is None


def test_repetition_penalty_acts_on_the_answer_only(world, loaded):
    model, tokenizer = loaded
    prompt = PromptTemplate().prompt(world.questions[0]["text"])
    prompt_ids = set(tokenizer(prompt, add_special_tokens=False)["input_ids"])

    def answer_ids(penalty: float) -> list[int]:
        [answer] = generate_answers(model, tokenizer, [prompt], max_new_tokens=24, repetition_penalty=penalty)
        return tokenizer(answer.text, add_special_tokens=False)["input_ids"] if answer.text else []

    plain = answer_ids(1.0)
    assert len(set(plain)) < len(plain)  # greedy tiny-phi repeats itself
    # An overwhelming penalty forbids every token the answer already holds, and no other: the answer never
    # repeats a token, yet it still uses the question's tokens.
    strong = answer_ids(1e6)
    assert len(strong) > 1 and len(set(strong)) == len(strong)
    assert prompt_ids & set(strong)


def test_repetition_penalty_below_one_is_refused(world, loaded):
    model, tokenizer = loaded
    with pytest.raises(ValueError, match="repetition_penalty must be a finite number >= 1.0, got 0.9"):
        generate_answers(model, tokenizer, ["Human: hi\nAssistant:"], repetition_penalty=0.9)
    # In the run config, before any model is loaded.
    with pytest.raises(ValueError, match="repetition_penalty must be a finite number >= 1.0, got 0.5"):
        EvaluationSettings(repetition_penalty=0.5)


def test_an_invented_next_turn_ends_the_answer_and_the_generation(world, loaded):
    """A model that misses EOS and writes "Human: ..." itself: the answer ends before that line, generation stops
    there (not at the token bound), and the answer still counts as ended, not cut."""
    from transformers import LogitsProcessor

    model, tokenizer = loaded
    script = tokenizer(" Rest and drink fluids.\nHuman: And how long does it last?\nAssistant: A week or two." * 3)
    script = script["input_ids"]

    class Scripted(LogitsProcessor):  # forces the scripted tokens, one per step
        def __init__(self, width: int):
            self.width = width

        def __call__(self, input_ids, scores):
            forced = torch.full_like(scores, -math.inf)
            forced[:, script[input_ids.shape[1] - self.width]] = 0.0
            return forced

    class ScriptedModel:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def generate(self, **kwargs):
            kwargs["logits_processor"].append(Scripted(kwargs["input_ids"].shape[1]))
            return self.inner.generate(**kwargs)

    prompt = PromptTemplate().prompt("What helps a cold?")
    bound = len(script) - 1
    [cut] = generate_answers(
        ScriptedModel(model), tokenizer, [prompt], max_new_tokens=bound, stop_at=PromptTemplate().turn_markers
    )
    assert cut.text == "Rest and drink fluids."
    assert cut.invented_turn and cut.ended and not cut.stopped_on_eos
    assert cut.n_tokens < len(tokenizer(" Rest and drink fluids.\nHuman: And how long")["input_ids"]) + 2
    [whole] = generate_answers(ScriptedModel(model), tokenizer, [prompt], max_new_tokens=bound)
    assert "Human: And how long" in whole.text and not whole.ended and whole.n_tokens == bound
    assert text_metrics([cut, whole], [["Rest."], ["Rest."]])["invented_turn_rate"] == 0.5


def test_generation_stops_at_the_models_context(world, loaded):
    """Past `max_position_embeddings` a model computes positions it never learnt: noise, and hours of it."""
    model, tokenizer = loaded
    context = model.config.max_position_embeddings
    prompt = PromptTemplate().prompt("What is gout? " * (context // 8))
    [answer] = generate_answers(
        model, tokenizer, [prompt], max_new_tokens=context * 2, max_prompt_tokens=None, repetition_penalty=1.0
    )
    assert answer.prompt_tokens + answer.n_tokens <= context
    with pytest.raises(ValueError, match=f"leaves no room in the {context}-token context"):
        generate_answers(model, tokenizer, ["gout " * context], max_new_tokens=4, max_prompt_tokens=None)


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"max_new_tokens": 1_000_000}, "max_new_tokens must be at most 1024"),
        ({"device": "nonsense"}, "device must be auto, cpu, mps, cuda or cuda:N"),
        ({"max_safety_questions": 0}, "the gate could only fail"),
        (
            {"ranking_max_questions": 0},
            "ranking_max_questions 0 skips a comparison the gate needs, and require_ranking",
        ),
        ({"generation_sample": 0}, "generation_sample 0 skips a comparison the gate needs, and require_generation"),
    ],
)
def test_settings_that_could_only_fail_are_refused_before_anything_loads(settings, says):
    with pytest.raises(ValueError, match=says):
        EvaluationSettings(**settings)
    assert EvaluationSettings(max_safety_questions=0, require_safety=False).max_safety_questions == 0
    assert EvaluationSettings(ranking_max_questions=0, require_ranking=False).ranking_max_questions == 0
    assert EvaluationSettings(generation_sample=0, require_generation=False).generation_sample == 0


@pytest.mark.parametrize(
    ("cut", "shown"),
    [
        ("Take 40 mg of ket", "Take 40 mg of"),
        ("Gout is a form of arthritis. It started in January 202", "Gout is a form of arthritis."),
        (
            "It helps. Rest, fluids, and a daily supplement of vitamin B",
            "It helps. Rest, fluids, and a daily supplement of vitamin",
        ),
        ("It ends here.", "It ends here."),
        ("Diet matters:\n\n1. Avoid sugary drinks.\n\n2.", "Diet matters:\n\n1. Avoid sugary drinks."),  # no bare "2."
        ("caf\ufffd", "caf"),
    ],
)
def test_an_answer_cut_at_the_bound_ends_on_a_whole_word_or_sentence(cut, shown):
    from medimind_assets.evaluation.generation import clean_cut

    assert clean_cut(cut) == shown


@pytest.mark.parametrize("seed", range(30))
def test_any_answer_cut_anywhere_ends_on_a_whole_word_of_it(seed):
    """Whatever the text and wherever the token bound falls: a prefix of the answer, ending where a word of it ended,
    never on a bare list number."""
    import random
    import re

    from medimind_assets.evaluation.generation import clean_cut

    rng = random.Random(seed)
    words = ["Take", "40", "mg", "of", "ketoprofen", "daily.", "Rest", "helps!", "1.", "2.", "\n\n3.", "vitamin", "B12"]
    whole = " ".join(rng.choice(words) for _ in range(rng.randint(1, 25)))
    cut = whole[: rng.randint(1, len(whole))]
    shown = clean_cut(cut)
    assert whole.startswith(shown)
    rest = whole[len(shown) :]
    one_word = shown == cut.strip() and not any(c.isspace() for c in shown)  # nothing whole before it
    assert one_word or not shown or not rest or rest[0].isspace() or shown[-1] in ".!?"
    assert not re.search(r"(?:^|\n)\s*\d+\.$", shown) or shown == cut.strip()


@pytest.mark.parametrize("seed", range(30))
def test_any_invented_turn_is_found_where_a_line_opens_with_a_marker_and_nowhere_else(seed):
    import random

    from medimind_assets.evaluation.generation import _turn_pattern

    rng = random.Random(seed)
    markers = PromptTemplate().turn_markers
    answer = " ".join(
        rng.choice(["Gout", "hurts.", "Ask", "your", "doctor:", "Q", "A", "human", "user"]) for _ in range(12)
    )
    pattern = _turn_pattern(markers)
    assert pattern.search(answer) is None  # a marker's word inside a line is no new turn
    invented = f"{answer}\n{' ' * rng.randint(0, 2)}{rng.choice(markers)} And what next?"
    assert pattern.search(invented).start() == len(answer)
