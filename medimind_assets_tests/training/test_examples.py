"""Dataset rows as training examples: the template, training's `max_length` budget, the counts it reports."""

from medimind_assets.llm.template import PromptTemplate
from medimind_assets.training.examples import encode_rows


def encode_example(tokenizer, template, instruction: str, response: str, max_length: int):
    """One (instruction, response) pair, encoded as `encode_rows` encodes each row."""
    rows = [{"instruction": instruction, "response": response}]
    return encode_rows(tokenizer, rows, template, max_length).examples[0]


TEMPLATE = PromptTemplate()
QUESTION = "Is a fever of 39 C dangerous for an adult?"
ANSWER = "A fever of 39 C is usually not dangerous; drink fluids and rest. See a doctor if it lasts three days."


def test_batched_rows_match_one_by_one_and_count_the_cuts(tiny_tokenizer):
    rows = [
        {"instruction": QUESTION, "response": ANSWER},
        {"instruction": "What is gout?", "response": " ".join([ANSWER] * 10)},
        {"instruction": "I have had a headache for weeks. " * 30, "response": ANSWER},
    ]
    limit = len(encode_example(tiny_tokenizer, TEMPLATE, QUESTION, ANSWER, max_length=4096))
    split = encode_rows(tiny_tokenizer, rows, TEMPLATE, max_length=limit)
    singles = [encode_example(tiny_tokenizer, TEMPLATE, r["instruction"], r["response"], limit) for r in rows]
    assert split.examples == singles
    assert split.truncated == 2 and split.prompt_truncated == 1
    assert singles[2].n_prompt == limit // 2  # an over-long prompt keeps half the budget, the answer the rest
    assert split.num_tokens == sum(len(e) for e in singles)
    assert all(len(e) <= limit for e in singles)


def test_no_rows_no_examples(tiny_tokenizer):
    split = encode_rows(tiny_tokenizer, [], TEMPLATE, max_length=64)
    assert split.examples == [] and split.truncated == 0 and split.num_tokens == 0
