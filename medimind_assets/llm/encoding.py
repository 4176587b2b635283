"""The one encoding of a prompt and its response (the completion) into token ids and labels.

Training learns from it and evaluation scores with it, so both see exactly the same tokens:

- The prompt and the completion are tokenized separately (the split `template.PromptTemplate` makes), so the
  completion's tokens do not depend on where the prompt was cut, and the prompt can be masked out of the labels.
- EOS is appended to a complete completion (the model learns, and is scored on, where an answer stops); a
  completion cut at a limit gets none: it did not end there.
- An over-long prompt keeps its end, nearest the answer.
- An empty prompt or completion (after truncation) is an error: nothing to condition on, or nothing to learn.

Two truncation rules, one per caller, each chosen by its own parameters:

- a total budget, `max_length` (training): prompt + completion + EOS fit in `max_length` tokens, EOS counted;
  the caller also caps the prompt (training: `max_prompt_tokens=max_length // 2`) so the answer keeps room.
  A completion that fills the budget exactly has no room for EOS and counts as cut.
- separate budgets, `max_prompt_tokens` and `max_completion_tokens` (evaluation): the completion's own tokens
  are capped, EOS not counted, so an answer of exactly `max_completion_tokens` tokens is complete and gets EOS.

Both may be given; the completion is then cut by whichever is tighter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

IGNORE_INDEX = -100
LOSS_ON_CHOICES = ("response", "all")


@dataclass(frozen=True)
class EncodedExample:
    """Token ids of prompt + completion; the last `n_completion` ids are the completion (its EOS included).

    `labels` are what a causal LM's loss is computed on: IGNORE_INDEX on the prompt (`loss_on="response"`), or
    the ids themselves everywhere (`loss_on="all"`).
    """

    input_ids: list[int]
    labels: list[int]
    n_completion: int
    truncated: bool = False  # the completion was cut at a limit (and got no EOS)
    prompt_cut: bool = False  # the prompt was shortened to its end

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def n_prompt(self) -> int:
        return len(self.input_ids) - self.n_completion


def encode_ids(
    prompt_ids: Sequence[int],
    completion_ids: Sequence[int],
    eos_id: int | None,
    *,
    add_eos: bool = True,
    max_length: int | None = None,
    max_prompt_tokens: int | None = None,
    max_completion_tokens: int | None = None,
    loss_on: str = "response",
) -> EncodedExample:
    """Prompt and completion ids joined and truncated by the rules in the module docstring."""
    if loss_on not in LOSS_ON_CHOICES:
        raise ValueError(f"loss_on must be 'response' or 'all', got {loss_on!r}")
    if add_eos and eos_id is None:
        raise ValueError("an EOS id is needed to mark where the completion ends")
    prompt, completion = list(prompt_ids), list(completion_ids)
    prompt_cut = max_prompt_tokens is not None and len(prompt) > max_prompt_tokens
    if prompt_cut:
        prompt = prompt[-max_prompt_tokens:]
    truncated = max_completion_tokens is not None and len(completion) > max_completion_tokens
    if truncated:
        completion = completion[:max_completion_tokens]
    if max_length is not None:
        room = max_length - len(prompt)
        if len(completion) + (add_eos and not truncated) > room:
            completion, truncated = completion[: max(room, 0)], True
    if add_eos and not truncated:
        completion.append(eos_id)
    if not prompt or not completion:
        raise ValueError(f"empty prompt or completion after encoding ({len(prompt)} and {len(completion)} tokens)")
    input_ids = prompt + completion
    labels = list(input_ids) if loss_on == "all" else [IGNORE_INDEX] * len(prompt) + completion
    return EncodedExample(input_ids, labels, len(completion), truncated, prompt_cut)


def encode_batch(
    tokenizer, prompts: Sequence[str], completions: Sequence[str], *, add_eos: bool = True, **limits: Any
) -> list[EncodedExample]:
    """Prompts and completions, each pair tokenized separately (no special tokens, two batched tokenizer calls) and
    encoded by `encode_ids` with `add_eos` and the `limits` it takes (max_length, max_prompt_tokens,
    max_completion_tokens, loss_on)."""
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
    if add_eos and tokenizer.eos_token_id is None:
        raise ValueError(f"tokenizer {tokenizer.name_or_path!r} has no EOS token")
    if not prompts:
        return []
    # Whole texts are tokenized first and cut here, so the tokenizer's "longer than the maximum length" warning
    # would be noise on every long answer.
    prompt_ids = tokenizer(list(prompts), add_special_tokens=False, verbose=False)["input_ids"]
    completion_ids = tokenizer(list(completions), add_special_tokens=False, verbose=False)["input_ids"]
    return [
        encode_ids(p, c, tokenizer.eos_token_id, add_eos=add_eos, **limits)
        for p, c in zip(prompt_ids, completion_ids, strict=True)
    ]
