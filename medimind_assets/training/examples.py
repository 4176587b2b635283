"""Dataset rows as training examples: the template applied, then `llm.encoding` under training's budget.

Training's budget is one total, `max_length`: prompt + response + EOS fit in it, EOS counted, and a prompt
longer than half of it keeps its end, so the response always has at least half (see `medimind_assets.llm.encoding`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from medimind_assets.llm.encoding import EncodedExample, encode_batch
from medimind_assets.llm.template import PromptTemplate


@dataclass(frozen=True)
class TokenizedSplit:
    examples: list[EncodedExample]
    truncated: int
    prompt_truncated: int

    @property
    def num_tokens(self) -> int:
        return sum(len(e) for e in self.examples)


def encode_rows(
    tokenizer, rows: Sequence[dict], template: PromptTemplate, max_length: int, loss_on: str = "response"
) -> TokenizedSplit:
    """Every row of `rows` (`instruction`, `response`), encoded in two batched tokenizer calls."""
    examples = encode_batch(
        tokenizer,
        [template.prompt(r["instruction"]) for r in rows],
        [template.completion(r["response"]) for r in rows],
        max_length=max_length,
        max_prompt_tokens=max_length // 2,
        loss_on=loss_on,
    )
    return TokenizedSplit(
        examples=examples,
        truncated=sum(e.truncated for e in examples),
        prompt_truncated=sum(e.prompt_cut for e in examples),
    )
