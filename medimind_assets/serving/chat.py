"""A conversation folded into the one prompt format the adapter was trained on, within a token budget (no torch).

The previous exchanges are written as training wrote one, each answer ended by EOS, one per line, before the new
question's prompt (docs/serving.md shows one). Over the budget, the oldest exchanges go first; a question alone still
over it keeps its last tokens, as the evaluation truncates.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from medimind_assets.llm.template import PromptTemplate

ROLES = ("user", "assistant")
# What one request may ask (the server answers more with 422): a message far longer than any prompt budget is a
# client's bug, not a question.
MAX_MESSAGE_CHARS = 8000
MAX_HISTORY_TURNS = 200
MAX_CHARS_PER_TOKEN = 32  # far more than any tokenizer's longest token on normalised text
# Characters that show nothing on their own: controls, format characters (zero-width space and joiners, word joiner,
# BOM, soft hyphen), combining marks with no letter to sit on, and the letters and symbol drawn as blanks.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Mn", "Me", "Zs", "Zl", "Zp"}
_BLANK_GLYPHS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Exchange:
    question: str
    answer: str | None  # None: the user turn was not answered (its request failed): folded with no answer


@dataclass(frozen=True)
class ChatPrompt:
    text: str  # the folded prompt; when it is over the budget alone, the model sees its last `n_tokens` tokens
    n_tokens: int  # prompt tokens the model sees (after any cut)
    history_turns_used: int  # turns of the history folded in (the newest ones)
    truncated: bool  # older turns were left out, or the prompt's start was cut


def normalise(text: str) -> str:
    return " ".join(text.split())


def is_blank(text: str) -> bool:
    """No character of `text` shows anything: whitespace, zero-width characters and the like only."""
    return all(c.isspace() or c in _BLANK_GLYPHS or unicodedata.category(c) in _INVISIBLE_CATEGORIES for c in text)


def exchanges(history: Sequence[Turn]) -> list[Exchange]:
    """The history as question-answer exchanges; ValueError naming the turn for an unknown role or an assistant
    turn that does not follow a user turn."""
    found: list[Exchange] = []
    for index, turn in enumerate(history):
        if turn.role == "user":
            found.append(Exchange(normalise(turn.content), None))
        elif turn.role == "assistant":
            if not found or found[-1].answer is not None:
                raise ValueError(f"history[{index}]: an assistant turn must follow a user turn")
            found[-1] = Exchange(found[-1].question, normalise(turn.content))
        else:
            raise ValueError(f"history[{index}].role: expected one of {', '.join(ROLES)}, got {turn.role!r}")
    return found


def fold(template: PromptTemplate, history: Sequence[Exchange], message: str, end_of_answer: str = "") -> str:
    """The previous exchanges, each answer ended by `end_of_answer` (the EOS token's text), then the new question's
    prompt, one exchange per line."""
    lines = [
        template.prompt(e.question) + (template.completion(e.answer) + end_of_answer if e.answer is not None else "")
        for e in history
    ]
    return "\n".join([*lines, template.prompt(normalise(message))])


def build_prompt(
    count_tokens: Callable[[str], int],
    template: PromptTemplate,
    history: Sequence[Turn],
    message: str,
    budget: int,
    end_of_answer: str = "",
) -> ChatPrompt:
    """The longest fold of the newest exchanges whose prompt fits `budget` tokens (`count_tokens` counts them);
    `end_of_answer` ends each previous answer (the tokenizer's EOS text, which it reads back as the EOS token).

    A binary search over where the kept history starts (fewer exchanges, fewer tokens), so a long history costs a
    few tokenizations, not one per exchange; exchanges further back than `MAX_CHARS_PER_TOKEN` x `budget`
    characters are not tried (no token is that long).
    """
    if budget < 1:
        raise ValueError(f"no room for the prompt: its budget is {budget} tokens")
    folded = exchanges(history)
    sizes = accumulate(len(e.question) + len(e.answer or "") for e in reversed(folded))
    first = len(folded) - sum(1 for size in sizes if size <= MAX_CHARS_PER_TOKEN * budget)
    counted: dict[int, tuple[str, int]] = {}

    def tokens(start: int) -> int:
        if start not in counted:
            text = fold(template, folded[start:], message, end_of_answer)
            counted[start] = (text, count_tokens(text))
        return counted[start][1]

    # The smallest start that fits (a start further on keeps fewer exchanges, so fewer tokens), else no history.
    start = bisect_left(range(first, len(folded)), True, key=lambda at: tokens(at) <= budget) + first
    if tokens(start) <= budget:
        text, n_tokens = counted[start]
        return ChatPrompt(text, n_tokens, sum(1 + (e.answer is not None) for e in folded[start:]), truncated=start > 0)
    # The question alone is over the budget: the model sees its last `budget` tokens.
    return ChatPrompt(counted[len(folded)][0], budget, 0, truncated=True)


def prompt_budget(context_tokens: int | None, max_new_tokens: int, max_prompt_tokens: int | None) -> int:
    """Prompt tokens a request may use: the server's bound, and what the model's context leaves after the answer."""
    bounds = [max_prompt_tokens, None if context_tokens is None else context_tokens - max_new_tokens]
    known = [b for b in bounds if b is not None]
    if not known:
        raise ValueError("no prompt bound: give max_prompt_tokens or the model's context length")
    return min(known)


def no_fit(question_tokens: int, max_new_tokens: int, context: int) -> str:
    """Why a question is refused rather than cut to make room for the answer (`medimind ask` and serving)."""
    return (
        f"the question ({question_tokens} tokens) and max_new_tokens {max_new_tokens} do not fit together in the "
        f"model's {context}-token context: ask for at most {context - question_tokens} new tokens"
    )
