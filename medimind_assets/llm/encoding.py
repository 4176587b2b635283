"""Turn (instruction, response) rows into token ids and labels.

The prompt and the completion are tokenized separately (the same split evaluation scores on, see
`medimind_assets.evaluation.prompting`), so the prompt can be masked out of the loss. Every example ends with
EOS, so the model learns to stop, except one whose response was cut at `max_length`: it did not end there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from medimind_assets.evaluation.prompting import PromptTemplate

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TokenizedExample:
    input_ids: list[int]
    labels: list[int]
    truncated: bool

    def __len__(self) -> int:
        return len(self.input_ids)

    def as_features(self) -> dict[str, list[int]]:
        return {"input_ids": self.input_ids, "labels": self.labels}


@dataclass(frozen=True)
class TokenizedSplit:
    examples: list[TokenizedExample]
    truncated: int
    prompt_truncated: int

    @property
    def num_tokens(self) -> int:
        return sum(len(e) for e in self.examples)


def _eos_id(tokenizer) -> int:
    if tokenizer.eos_token_id is None:
        raise ValueError(f"tokenizer {tokenizer.name_or_path!r} has no EOS token")
    return tokenizer.eos_token_id


def assemble(
    prompt_ids: list[int], response_ids: list[int], eos_id: int, max_length: int, loss_on: str = "response"
) -> tuple[TokenizedExample, bool]:
    """One example within `max_length` tokens; returns it and whether its prompt had to be shortened.

    A prompt longer than half of `max_length` keeps its end (nearest the answer); the response fills the rest.
    """
    if loss_on not in ("response", "all"):
        raise ValueError(f"loss_on must be 'response' or 'all', got {loss_on!r}")
    max_prompt = max_length // 2
    prompt_cut = len(prompt_ids) > max_prompt
    if prompt_cut:
        prompt_ids = prompt_ids[-max_prompt:]
    room = max_length - len(prompt_ids)
    truncated = len(response_ids) + 1 > room
    response_ids = response_ids[:room] if truncated else [*response_ids, eos_id]
    input_ids = prompt_ids + response_ids
    labels = list(input_ids) if loss_on == "all" else [IGNORE_INDEX] * len(prompt_ids) + response_ids
    return TokenizedExample(input_ids=input_ids, labels=labels, truncated=truncated), prompt_cut


def tokenize_example(
    tokenizer,
    template: PromptTemplate,
    instruction: str,
    response: str,
    max_length: int,
    loss_on: str = "response",
) -> TokenizedExample:
    """One (instruction, response) pair as token ids and labels (see `assemble`)."""
    prompt_ids = tokenizer(template.prompt(instruction), add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(template.completion(response), add_special_tokens=False)["input_ids"]
    return assemble(prompt_ids, response_ids, _eos_id(tokenizer), max_length, loss_on)[0]


def tokenize_rows(
    tokenizer, rows: Sequence[dict], template: PromptTemplate, max_length: int, loss_on: str = "response"
) -> TokenizedSplit:
    """Every row of `rows`, tokenized in two batched tokenizer calls."""
    eos_id = _eos_id(tokenizer)
    if not rows:
        return TokenizedSplit(examples=[], truncated=0, prompt_truncated=0)
    prompts = tokenizer([template.prompt(r["instruction"]) for r in rows], add_special_tokens=False)
    responses = tokenizer([template.completion(r["response"]) for r in rows], add_special_tokens=False)
    examples: list[TokenizedExample] = []
    prompt_truncated = 0
    for prompt_ids, response_ids in zip(prompts["input_ids"], responses["input_ids"], strict=True):
        example, prompt_cut = assemble(prompt_ids, response_ids, eos_id, max_length, loss_on)
        examples.append(example)
        prompt_truncated += prompt_cut
    return TokenizedSplit(
        examples=examples,
        truncated=sum(e.truncated for e in examples),
        prompt_truncated=prompt_truncated,
    )
