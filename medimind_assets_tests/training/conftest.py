"""Fixtures for training tests: a small dataset.jsonl written here, and tiny-phi built once per session."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from medimind_assets.models import resolve_base_model, write_current_base_model
from medimind_assets.resources import MediMindSettings, SubprocessLauncher
from medimind_assets.training.hyperparameters import TrainingHyperparameters
from medimind_assets.training.request import TrainingRequest

_TOPICS = ["diabetes", "asthma", "migraine", "anemia", "gout", "eczema", "shingles", "glaucoma", "sciatica"]
_PHRASES = [
    "is a common condition that",
    "can be treated with rest and fluids, and",
    "often causes pain in the joints when",
    "is diagnosed by a doctor who",
    "may need urgent care if breathing becomes difficult and",
    "usually improves within a few weeks unless",
    "is managed with regular checkups because",
]


def make_rows(n_train: int = 30, n_validation: int = 8, n_test: int = 4, seed: int = 0) -> list[dict]:
    """Rows in the dataset.jsonl contract, with answers of varied length (a few words to ~150)."""
    rng = random.Random(seed)
    rows = []
    for split, count in (("train", n_train), ("validation", n_validation), ("test", n_test)):
        for i in range(count):
            topic = rng.choice(_TOPICS)
            sentences = [f"{topic.capitalize()} {rng.choice(_PHRASES)} {rng.choice(_TOPICS)} is present."]
            sentences += [f"It {rng.choice(_PHRASES)} symptoms change." for _ in range(rng.randint(0, 12))]
            question_id = f"medquad:{split}:{i}"
            rows.append(
                {
                    "id": f"{question_id}:0",
                    "question_id": question_id,
                    "instruction": f"What should I know about {topic}? ({split} question {i})",
                    "response": " ".join(sentences),
                    "source": "medquad",
                    "safety_level": "safe",
                    "split": split,
                    "answer_id": f"{question_id}:a0",
                    "reference_score": None,
                    "origin": "medquad/test.xml",
                }
            )
    return rows


def write_dataset(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_phi(tmp_path_factory) -> dict:
    """The tiny-phi manifest (built once, through the base-model registry)."""
    rows = make_rows()
    texts = [r["instruction"] for r in rows] + [r["response"] for r in rows]
    return resolve_base_model("tiny-phi", tmp_path_factory.mktemp("models"), texts)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_phi):
    from medimind_assets.llm.loading import load_tokenizer

    return load_tokenizer(Path(tiny_phi["path"]))


@pytest.fixture
def settings(tmp_path: Path, tiny_phi: dict) -> MediMindSettings:
    """A data dir with dataset.jsonl and models/base_model.json pointing at tiny-phi."""
    settings = MediMindSettings(raw_dir=str(tmp_path / "raw"), data_dir=str(tmp_path / "data"))
    write_dataset(settings.store.dataset, make_rows())
    write_current_base_model(settings.store, tiny_phi)
    return settings


# Small, fast settings for a real training run of tiny-phi on CPU.
QUICK = {
    "batch_size": 4,
    "gradient_accumulation_steps": 1,
    "max_length": 128,
    "max_steps": 6,
    "save_steps": 3,
    "eval_steps": 3,
    "logging_steps": 1,
    "learning_rate": 1e-3,
}


def make_request(
    settings: MediMindSettings, manifest: dict, force: bool = False, raw_dir: Path | None = None, **overrides
) -> TrainingRequest:
    hyperparameters = TrainingHyperparameters.from_dict({**QUICK, **overrides})
    return TrainingRequest.create(
        dataset_path=settings.store.dataset,
        base_model=manifest,
        hyperparameters=hyperparameters,
        data_root=settings.store.root,
        force=force,
        raw_dir=raw_dir,
    )


class ListReporter:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.reports: list[tuple[dict, str]] = []

    def info(self, message: str) -> None:
        self.lines.append(message)

    def report(self, metadata: dict, data_version: str) -> None:
        self.reports.append((metadata, data_version))


def materialize_lora(settings: MediMindSettings, instance, raise_on_error: bool = False, **config):
    """dg.materialize the lora_adapter asset alone, through the subprocess launcher (a real PipesSubprocessClient)."""
    import dagster as dg

    from medimind_assets.assets.training import lora_adapter

    return dg.materialize(
        [lora_adapter],
        instance=instance,
        resources={"settings": settings, "launcher": SubprocessLauncher()},
        run_config={"ops": {"lora_adapter": {"config": {**QUICK, **config}}}},
        raise_on_error=raise_on_error,
    )


def run_messages(instance, result) -> list[str]:
    """Every log line and event of the run, with any error it carries, as text."""
    return [f"{entry.user_message} {entry.dagster_event or ''}" for entry in instance.all_logs(result.run_id)]
