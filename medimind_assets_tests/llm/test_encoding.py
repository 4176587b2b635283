from medimind_assets.evaluation.prompting import PromptTemplate
from medimind_assets.training.prompting import IGNORE_INDEX, tokenize_example, tokenize_rows

TEMPLATE = PromptTemplate()
QUESTION = "Is a fever of 39 C dangerous for an adult?"
ANSWER = "A fever of 39 C is usually not dangerous; drink fluids and rest. See a doctor if it lasts three days."


def _prompt_len(tokenizer, question: str = QUESTION) -> int:
    return len(tokenizer(TEMPLATE.prompt(question), add_special_tokens=False)["input_ids"])


def test_prompt_is_masked_and_response_ends_with_eos(tiny_tokenizer):
    example = tokenize_example(tiny_tokenizer, TEMPLATE, QUESTION, ANSWER, max_length=512)
    n_prompt = _prompt_len(tiny_tokenizer)
    assert tiny_tokenizer.decode(example.input_ids[:n_prompt]) == f"Human: {QUESTION}\nAssistant:"
    assert example.labels[:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert example.labels[n_prompt:] == example.input_ids[n_prompt:]
    assert example.input_ids[-1] == tiny_tokenizer.eos_token_id
    assert tiny_tokenizer.decode(example.input_ids[n_prompt:-1]) == f" {ANSWER}"
    assert not example.truncated


def test_loss_on_all_scores_the_prompt_too(tiny_tokenizer):
    example = tokenize_example(tiny_tokenizer, TEMPLATE, QUESTION, ANSWER, max_length=512, loss_on="all")
    assert example.labels == example.input_ids
    assert example.input_ids[-1] == tiny_tokenizer.eos_token_id


def test_an_over_long_response_is_cut_to_max_length_without_eos(tiny_tokenizer):
    long_answer = " ".join([ANSWER] * 20)
    limit = 2 * _prompt_len(tiny_tokenizer) + 10
    full = tokenize_example(tiny_tokenizer, TEMPLATE, QUESTION, long_answer, max_length=4096)
    cut = tokenize_example(tiny_tokenizer, TEMPLATE, QUESTION, long_answer, max_length=limit)
    assert len(cut) == limit and cut.truncated
    assert cut.input_ids[-1] != tiny_tokenizer.eos_token_id
    assert cut.input_ids == full.input_ids[:limit]  # a prefix of the real text, not a re-tokenization
    assert not full.truncated and full.input_ids[-1] == tiny_tokenizer.eos_token_id


def test_a_response_that_fills_max_length_exactly_gets_no_eos(tiny_tokenizer):
    full = tokenize_example(tiny_tokenizer, TEMPLATE, QUESTION, ANSWER, max_length=4096)
    without_eos = len(full) - 1
    exact = tokenize_example(tiny_tokenizer, TEMPLATE, QUESTION, ANSWER, max_length=without_eos)
    assert exact.truncated and exact.input_ids == full.input_ids[:-1]
    fits = tokenize_example(tiny_tokenizer, TEMPLATE, QUESTION, ANSWER, max_length=len(full))
    assert not fits.truncated and fits.input_ids == full.input_ids


def test_a_long_prompt_keeps_its_end_and_leaves_room_for_the_answer(tiny_tokenizer):
    question = "I have had a headache for weeks. " * 20 + "What should I do?"
    example = tokenize_example(tiny_tokenizer, TEMPLATE, question, ANSWER, max_length=64)
    labels = example.labels
    n_prompt = labels.index(next(label for label in labels if label != IGNORE_INDEX))
    assert n_prompt == 32
    assert tiny_tokenizer.decode(example.input_ids[:n_prompt]).endswith("What should I do?\nAssistant:")
    assert len(example) == 64


def test_custom_template_with_suffix(tiny_tokenizer):
    template = PromptTemplate("### Q: {instruction}\n### A: {response}\n")
    example = tokenize_example(tiny_tokenizer, template, QUESTION, ANSWER, max_length=512)
    assert tiny_tokenizer.decode(example.input_ids[:-1]) == f"### Q: {QUESTION}\n### A: {ANSWER}\n"


def test_batched_tokenization_matches_one_by_one(tiny_tokenizer):
    rows = [
        {"instruction": QUESTION, "response": ANSWER},
        {"instruction": "What is gout?", "response": " ".join([ANSWER] * 10)},
    ]
    limit = len(tokenize_example(tiny_tokenizer, TEMPLATE, QUESTION, ANSWER, max_length=4096))
    split = tokenize_rows(tiny_tokenizer, rows, TEMPLATE, max_length=limit)
    singles = [tokenize_example(tiny_tokenizer, TEMPLATE, r["instruction"], r["response"], limit) for r in rows]
    assert split.examples == singles
    assert split.truncated == 1
    assert split.num_tokens == sum(len(e) for e in singles)
