"""A tiny-phi model and its tokenizer, built once per session from a few medical sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

TEXTS = [
    "Is a fever of 39 C dangerous for an adult?",
    "A fever of 39 C is usually not dangerous; drink fluids and rest. See a doctor if it lasts three days.",
    "I have had a headache for weeks. What should I do?",
    "What is gout? Gout is a form of arthritis that causes pain and swelling in the joints.",
    "Human: Assistant: ### Q: A: one two three four five six",
] * 4


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from medimind_assets.models import resolve_base_model

    return Path(resolve_base_model("tiny-phi", tmp_path_factory.mktemp("models"), TEXTS)["path"])


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir: Path):
    from medimind_assets.llm.loading import load_tokenizer

    return load_tokenizer(tiny_model_dir)
