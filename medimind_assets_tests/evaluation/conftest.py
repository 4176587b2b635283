"""Session fixtures: one synthetic MEDIQA world, one tiny-phi base model and three adapters, built once."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from medimind_assets.models import resolve_base_model, write_current_base_model
from medimind_assets_tests.evaluation.helpers import (
    dataset_rows,
    make_adapter,
    point_latest,
    synthetic_questions,
    training_texts,
    write_jsonl,
    write_raw,
)


@dataclass(frozen=True)
class World:
    raw_dir: Path
    dataset: Path
    base_dir: Path
    manifest: dict
    questions: list[dict]
    rows: list[dict]
    trained_adapter: Path  # lowers the held-out loss: passes the gate
    identity_adapter: Path  # LoRA B = 0: exactly the base, fails the gate
    random_adapter: Path  # non-zero random LoRA update: for merge tests


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("evaluation_world")
    questions = synthetic_questions()
    rows = dataset_rows(questions)
    raw_dir = root / "raw"
    write_raw(raw_dir, questions)
    dataset = write_jsonl(root / "dataset.jsonl", rows)
    manifest = resolve_base_model("tiny-phi", root / "models", tokenizer_texts=training_texts(rows))
    base_dir = Path(manifest["path"])
    adapters = root / "adapters"
    train_texts = training_texts([r for r in rows if r["split"] == "train"])
    return World(
        raw_dir=raw_dir,
        dataset=dataset,
        base_dir=base_dir,
        manifest=manifest,
        questions=questions,
        rows=rows,
        trained_adapter=make_adapter(base_dir, adapters / "trained", train_texts, steps=40, lr=1e-2),
        identity_adapter=make_adapter(base_dir, adapters / "identity", train_texts, steps=0, lr=0.0),
        random_adapter=make_adapter(
            base_dir, adapters / "random", train_texts, steps=0, lr=0.0, init_lora_weights=False
        ),
    )


@pytest.fixture
def data_dir(tmp_path: Path, world: World) -> Path:
    """A pipeline data directory of its own: dataset.jsonl and models/base_model.json (no adapter pointers)."""
    data = tmp_path / "data"
    shutil.copy(world.dataset, data.mkdir(parents=True) or data / "dataset.jsonl")
    write_current_base_model(data / "models", world.manifest)
    return data


def use_adapter(data: Path, adapter: Path) -> None:
    point_latest(data / "adapters", adapter)
