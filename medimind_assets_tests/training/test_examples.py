"""Dataset rows as training examples: the template, training's `max_length` budget, the counts it reports."""

from medimind_assets.llm.template import PromptTemplate
from medimind_assets.training.data import encode_rows


def encode_example(tokenizer, template, instruction: str, response: str, max_length: int):
    """One (instruction, response) pair, encoded as `encode_rows` encodes each row."""
    rows = [{"instruction": instruction, "response": response}]
    return encode_rows(tokenizer, rows, template, max_length)[0]


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
    examples = encode_rows(tiny_tokenizer, rows, TEMPLATE, max_length=limit)
    singles = [encode_example(tiny_tokenizer, TEMPLATE, r["instruction"], r["response"], limit) for r in rows]
    assert examples == singles
    assert [e.truncated for e in examples] == [False, True, True]
    assert [e.prompt_cut for e in examples] == [False, False, True]
    assert singles[2].n_prompt == limit // 2  # an over-long prompt keeps half the budget, the answer the rest
    assert all(len(e) <= limit for e in singles)


def test_no_rows_no_examples(tiny_tokenizer):
    assert encode_rows(tiny_tokenizer, [], TEMPLATE, max_length=64) == []


def test_a_full_disk_while_the_dataset_is_cached_is_named_with_its_folder(tmp_path, monkeypatch):
    """`datasets` wraps the operating system's refusal in "An error occurred while generating the dataset": the
    training and the evaluation still say the disk is full, and where."""
    import errno

    import datasets
    import pytest

    from medimind_assets.atomic import ArtifactWriteError
    from medimind_assets.training.data import load_rows

    def full_disk(*args, **kwargs):
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise datasets.exceptions.DatasetGenerationError("An error occurred while generating the dataset") from exc

    monkeypatch.setattr(datasets.Dataset, "from_json", full_disk)
    with pytest.raises(
        ArtifactWriteError, match=f"no space left on device while writing {tmp_path / 'cache' / 'json'}"
    ):
        load_rows(tmp_path / "dataset.jsonl", tmp_path / "cache")
