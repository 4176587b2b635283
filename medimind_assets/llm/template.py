"""The prompt template shared by training, evaluation and serving.

Training writes its template into the adapter's `training_summary.json`; evaluation reads it back so the
loss is measured on exactly the text the adapter learned. The model sees the prompt up to and including
"Assistant:" (the serving format, `Human: {q}\\nAssistant:`); the space after the colon belongs to the
completion, because a byte-level BPE tokenizer attaches a leading space to the next word (" The").
"""

from __future__ import annotations

from dataclasses import dataclass

from medimind_assets.errors import MediMindError

DEFAULT_TEMPLATE = "Human: {instruction}\nAssistant: {response}"
INSTRUCTION = "{instruction}"
RESPONSE = "{response}"
# Role labels a model writes when it goes on to invent a conversation, whatever its template.
INVENTED_TURNS = ("Human:", "User:", "Assistant:", "Q:", "Question:")
# Keys under which a training summary may record its template (first found wins).
TEMPLATE_KEYS = ("prompt_template", "template")


class TemplateError(MediMindError, ValueError):
    """A prompt template that cannot split into a prompt and a completion."""


@dataclass(frozen=True)
class PromptTemplate:
    text: str = DEFAULT_TEMPLATE

    def __post_init__(self) -> None:
        if self.text.count(INSTRUCTION) != 1 or self.text.count(RESPONSE) != 1:
            raise TemplateError(f"template {self.text!r} must contain {INSTRUCTION} and {RESPONSE} exactly once")
        if self.text.index(INSTRUCTION) > self.text.index(RESPONSE):
            raise TemplateError(f"template {self.text!r}: {INSTRUCTION} must come before {RESPONSE}")

    def prompt(self, instruction: str) -> str:
        """What the model is given: the template up to the response, without trailing spaces."""
        # str.replace, not str.format: questions may contain braces.
        return self.text.partition(RESPONSE)[0].replace(INSTRUCTION, instruction).rstrip(" ")

    @property
    def turn_markers(self) -> tuple[str, ...]:
        """The template's own words that open a turn ("Human:", "Assistant:"), then the role labels models invent
        turns with ("User:", "Q:"): a model that writes one at the start of a line has finished its answer and
        begun inventing the next turn of the conversation."""
        before, _, rest = self.text.partition(INSTRUCTION)
        between = rest.partition(RESPONSE)[0]
        lines = (part.strip().splitlines()[-1].strip() if part.strip() else "" for part in (before, between))
        own = [line for line in lines if any(c.isalpha() for c in line)]
        return tuple(dict.fromkeys([*own, *INVENTED_TURNS]))

    def completion(self, response: str) -> str:
        """What the model is scored on (EOS is appended by the tokenizing code)."""
        prefix, _, suffix = self.text.partition(RESPONSE)
        gap = prefix[len(prefix.rstrip(" ")) :]
        return f"{gap}{response}{suffix}"


def plain_text(text: str, tokenizer) -> str:
    """`text` (a user's question) with the spelling of any of the tokenizer's added tokens broken by a space, so
    that "<|endoftext|>" typed in a question is read as text, not as the token that ends it. Only the user's text:
    the template's own tokens (a ChatML template's <|im_start|>) stay the tokens training saw."""
    added = tokenizer.get_added_vocab() if hasattr(tokenizer, "get_added_vocab") else {}
    for token in sorted(added, key=len, reverse=True):
        if len(token) > 1 and token in text:
            text = text.replace(token, f"{token[0]} {token[1:]}")
    return text


def template_from_summary(summary: dict) -> PromptTemplate:
    for key in TEMPLATE_KEYS:
        if isinstance(summary.get(key), str):
            return PromptTemplate(summary[key])
    return PromptTemplate()
