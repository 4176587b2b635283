"""The prompt template: the serving prompt, the scored completion, and reading it from a training summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medimind_assets.integrity import IntegrityError, read_summary
from medimind_assets.llm.template import (
    PromptTemplate,
    TemplateError,
    template_from_summary,
)


def test_default_template_splits_into_the_serving_prompt_and_the_completion():
    template = PromptTemplate()
    assert template.prompt("What is a headache?") == "Human: What is a headache?\nAssistant:"
    assert template.completion("Pain in the head.") == " Pain in the head."
    assert template.prompt("x") + template.completion("y") == "Human: x\nAssistant: y"


def test_questions_with_braces_are_not_formatted():
    assert PromptTemplate().prompt("Is {x} a {response}?") == "Human: Is {x} a {response}?\nAssistant:"


def test_custom_template_with_a_suffix():
    template = PromptTemplate("### Q: {instruction}\n### A: {response}\n###")
    assert template.prompt("q") == "### Q: q\n### A:"
    assert template.completion("a") == " a\n###"


@pytest.mark.parametrize(
    "text", ["Human: {instruction}", "{response} {instruction}", "{instruction}{instruction}{response}"]
)
def test_unusable_templates_are_refused(text: str):
    with pytest.raises(TemplateError):
        PromptTemplate(text)


def test_template_is_read_from_the_training_summary(tmp_path: Path):
    assert read_summary(tmp_path) == {}
    assert template_from_summary({}) == PromptTemplate()
    (tmp_path / "training_summary.json").write_text(json.dumps({"prompt_template": "Q: {instruction}\nA: {response}"}))
    assert template_from_summary(read_summary(tmp_path)).prompt("hi") == "Q: hi\nA:"
    (tmp_path / "training_summary.json").write_text("{not json")
    with pytest.raises(IntegrityError, match="training_summary.json: is not valid JSON"):
        read_summary(tmp_path)


@pytest.mark.parametrize(
    ("text", "markers"),
    [
        ("Human: {instruction}\nAssistant: {response}", ("Human:", "Assistant:")),
        ("### Question:\n{instruction}\n\n### Answer:\n{response}", ("### Question:", "### Answer:")),
        ("Patient asks: {instruction}\nAnswer: {response}", ("Patient asks:", "Answer:")),
        ("{instruction}\n\n{response}", ()),  # only the labels models invent turns with
    ],
)
def test_turn_markers_are_the_words_that_open_a_turn(text: str, markers: tuple[str, ...]):
    from medimind_assets.llm.template import INVENTED_TURNS

    assert PromptTemplate(text).turn_markers == tuple(dict.fromkeys([*markers, *INVENTED_TURNS]))
