"""The one encoding of prompt + completion: masks, EOS, and each caller's truncation rule."""

import pytest

from medimind_assets.llm.encoding import IGNORE_INDEX, encode_batch, encode_ids
from medimind_assets.llm.template import PromptTemplate

TEMPLATE = PromptTemplate()
QUESTION = "Is a fever of 39 C dangerous for an adult?"
ANSWER = "A fever of 39 C is usually not dangerous; drink fluids and rest. See a doctor if it lasts three days."
PROMPT, COMPLETION = TEMPLATE.prompt(QUESTION), TEMPLATE.completion(ANSWER)


def encode(tokenizer, prompt: str, completion: str, **options):
    [encoded] = encode_batch(tokenizer, [prompt], [completion], **options)
    return encoded


def training(tokenizer, prompt: str, completion: str, max_length: int, loss_on: str = "response"):
    """Training's rule: one total budget, the prompt capped at half of it."""
    return encode(
        tokenizer, prompt, completion, max_length=max_length, max_prompt_tokens=max_length // 2, loss_on=loss_on
    )


def _prompt_len(tokenizer, prompt: str = PROMPT) -> int:
    return len(tokenizer(prompt, add_special_tokens=False)["input_ids"])


def test_prompt_is_masked_and_response_ends_with_eos(tiny_tokenizer):
    example = training(tiny_tokenizer, PROMPT, COMPLETION, max_length=512)
    n_prompt = _prompt_len(tiny_tokenizer)
    assert example.n_prompt == n_prompt and example.n_completion == len(example) - n_prompt
    assert tiny_tokenizer.decode(example.input_ids[:n_prompt]) == f"Human: {QUESTION}\nAssistant:"
    assert example.labels[:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert example.labels[n_prompt:] == example.input_ids[n_prompt:]
    assert example.input_ids[-1] == tiny_tokenizer.eos_token_id
    assert tiny_tokenizer.decode(example.input_ids[n_prompt:-1]) == f" {ANSWER}"
    assert not example.truncated and not example.prompt_cut


def test_loss_on_all_scores_the_prompt_too(tiny_tokenizer):
    example = training(tiny_tokenizer, PROMPT, COMPLETION, max_length=512, loss_on="all")
    assert example.labels == example.input_ids
    assert example.input_ids[-1] == tiny_tokenizer.eos_token_id
    with pytest.raises(ValueError, match="loss_on"):
        training(tiny_tokenizer, PROMPT, COMPLETION, max_length=512, loss_on="prompt")


def test_an_over_long_response_is_cut_to_max_length_without_eos(tiny_tokenizer):
    long_completion = TEMPLATE.completion(" ".join([ANSWER] * 20))
    limit = 2 * _prompt_len(tiny_tokenizer) + 10
    full = training(tiny_tokenizer, PROMPT, long_completion, max_length=4096)
    cut = training(tiny_tokenizer, PROMPT, long_completion, max_length=limit)
    assert len(cut) == limit and cut.truncated
    assert cut.input_ids[-1] != tiny_tokenizer.eos_token_id
    assert cut.input_ids == full.input_ids[:limit]  # a prefix of the real text, not a re-tokenization
    assert not full.truncated and full.input_ids[-1] == tiny_tokenizer.eos_token_id


def test_a_response_that_fills_max_length_exactly_gets_no_eos(tiny_tokenizer):
    full = training(tiny_tokenizer, PROMPT, COMPLETION, max_length=4096)
    without_eos = len(full) - 1
    exact = training(tiny_tokenizer, PROMPT, COMPLETION, max_length=without_eos)
    assert exact.truncated and exact.input_ids == full.input_ids[:-1]
    fits = training(tiny_tokenizer, PROMPT, COMPLETION, max_length=len(full))
    assert not fits.truncated and fits.input_ids == full.input_ids


def test_a_long_prompt_keeps_its_end_and_leaves_room_for_the_answer(tiny_tokenizer):
    prompt = TEMPLATE.prompt("I have had a headache for weeks. " * 20 + "What should I do?")
    prompt_ids = tiny_tokenizer(prompt, add_special_tokens=False)["input_ids"]
    example = training(tiny_tokenizer, prompt, TEMPLATE.completion(" ".join([ANSWER] * 5)), max_length=64)
    assert len(prompt_ids) > 32 and example.prompt_cut and example.n_prompt == 32
    assert example.labels.index(next(label for label in example.labels if label != IGNORE_INDEX)) == 32
    assert example.input_ids[:32] == prompt_ids[-32:]
    assert len(example) == 64


def test_custom_template_with_suffix(tiny_tokenizer):
    template = PromptTemplate("### Q: {instruction}\n### A: {response}\n")
    example = training(tiny_tokenizer, template.prompt(QUESTION), template.completion(ANSWER), max_length=512)
    assert tiny_tokenizer.decode(example.input_ids[:-1]) == f"### Q: {QUESTION}\n### A: {ANSWER}\n"


def test_separate_budgets_cap_tokens_and_append_eos_only_to_complete_answers(tiny_tokenizer):
    """Evaluation's rule: the prompt and the answer have their own caps; EOS does not count against the answer's."""
    whole = encode(tiny_tokenizer, "Human: q\nAssistant:", " one two three", add_eos=True)
    assert whole.input_ids[-1] == tiny_tokenizer.eos_token_id
    cut = encode(
        tiny_tokenizer, "Human: q\nAssistant:", " one two three four five six", add_eos=True, max_completion_tokens=2
    )
    assert cut.n_completion == 2 and cut.truncated and cut.input_ids[-1] != tiny_tokenizer.eos_token_id
    prompt = "Human: a b c d e f g\nAssistant:"
    long_prompt = encode(tiny_tokenizer, prompt, " x", add_eos=False, max_prompt_tokens=3)
    assert len(long_prompt.input_ids) == 3 + long_prompt.n_completion and long_prompt.prompt_cut
    assert long_prompt.input_ids[:3] == tiny_tokenizer(prompt, add_special_tokens=False)["input_ids"][-3:]


def test_the_two_rules_differ_only_in_whether_eos_counts():
    prompt, answer, eos = [1, 2, 3], [4, 5, 6], 0
    # An answer of exactly the cap: complete under evaluation's cap (EOS on top) ...
    capped = encode_ids(prompt, answer, eos, max_completion_tokens=3)
    assert capped.input_ids == [1, 2, 3, 4, 5, 6, 0] and not capped.truncated and capped.n_completion == 4
    # ... but cut under training's total budget, where EOS needs a place of its own.
    budget = encode_ids(prompt, answer, eos, max_length=6, max_prompt_tokens=3)
    assert budget.input_ids == [1, 2, 3, 4, 5, 6] and budget.truncated and budget.n_completion == 3
    assert encode_ids(prompt, answer, eos, max_length=7).input_ids == [1, 2, 3, 4, 5, 6, 0]
    # Both caps: the tighter one cuts.
    assert encode_ids(prompt, answer, eos, max_length=6, max_completion_tokens=1).input_ids == [1, 2, 3, 4]
    assert encode_ids(prompt, answer, None, add_eos=False).labels == [IGNORE_INDEX] * 3 + answer


def test_nothing_to_condition_on_or_to_learn_is_refused():
    with pytest.raises(ValueError, match="empty prompt or completion"):
        encode_ids([], [4], 0)
    with pytest.raises(ValueError, match="empty prompt or completion"):
        encode_ids([1], [], 0, add_eos=False)
    with pytest.raises(ValueError, match="EOS"):
        encode_ids([1], [2], None)


def test_batched_encoding_matches_one_by_one(tiny_tokenizer):
    prompts = [PROMPT, TEMPLATE.prompt("What is gout?")]
    completions = [COMPLETION, TEMPLATE.completion(" ".join([ANSWER] * 10))]
    limit = len(training(tiny_tokenizer, PROMPT, COMPLETION, max_length=4096))
    batch = encode_batch(tiny_tokenizer, prompts, completions, max_length=limit, max_prompt_tokens=limit // 2)
    singles = [training(tiny_tokenizer, p, c, max_length=limit) for p, c in zip(prompts, completions, strict=True)]
    assert batch == singles
    assert [e.truncated for e in batch] == [False, True]
    assert encode_batch(tiny_tokenizer, [], []) == []
