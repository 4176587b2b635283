from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from medimind_assets.models import resolve_base_model

# Our own short QA texts in the training prompt format: enough for the tiny tokenizer to learn merges.
QA_PAIRS = [
    ("What are the symptoms of anemia?", "Tiredness, pale skin, shortness of breath and cold hands."),
    (
        "How is type 2 diabetes treated?",
        "Diet, exercise, metformin and sometimes insulin lower blood glucose.",
    ),
    (
        "Can I take ibuprofen with high blood pressure?",
        "Ask your doctor: ibuprofen can raise blood pressure.",
    ),
    ("What causes migraine headaches?", "Triggers include stress, lack of sleep, some foods and hormones."),
    (
        "Is chest pain an emergency?",
        "Sudden chest pain with sweating or breathlessness needs emergency care.",
    ),
    ("How long does the flu last?", "Most people recover from influenza within one to two weeks."),
    ("What is hypertension?", "Hypertension is blood pressure that stays at or above 130/80 mmHg."),
    ("What are the side effects of statins?", "Muscle aches, digestive problems and, rarely, liver damage."),
]
TEXTS = [f"Human: {q}\nAssistant: {a}" for q, a in QA_PAIRS] * 4
CHAT_TEXT = "Human: What is hypertension?\nAssistant: High blood pressure."


@pytest.fixture(scope="session")
def tokenizer_texts() -> list[str]:
    return list(TEXTS)


@pytest.fixture(scope="session")
def tiny_phi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """tiny-phi resolved once per session into its own models dir; the manifest it returned."""
    models_dir = tmp_path_factory.mktemp("models")
    return resolve_base_model("tiny-phi", models_dir, TEXTS)


@pytest.fixture
def copy_of_tiny_phi(tiny_phi: dict[str, Any], tmp_path: Path) -> Path:
    """A user-style local model directory: config, safetensors and tokenizer, no MediMind files."""
    target = tmp_path / "my-model"
    shutil.copytree(tiny_phi["path"], target, ignore=shutil.ignore_patterns(".*", "medimind_model.json"))
    return target
