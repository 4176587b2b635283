"""The `settings` resource: where raw data and artefacts live, and which base model to use.

Environment variables are read once, when the definitions load (`MediMindSettings.from_env`).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

DEFAULT_RAW_DIR = "data/raw"
DEFAULT_DATA_DIR = "data"
DEFAULT_BASE_MODEL = "microsoft/phi-2"


class MediMindSettings(dg.ConfigurableResource):
    """Paths and the base model, from MEDIMIND_RAW_DIR, MEDIMIND_DATA_DIR and MEDIMIND_BASE_MODEL."""

    raw_dir: str = DEFAULT_RAW_DIR
    data_dir: str = DEFAULT_DATA_DIR
    base_model: str = DEFAULT_BASE_MODEL

    @classmethod
    def from_env(cls) -> MediMindSettings:
        return cls(
            raw_dir=os.environ.get("MEDIMIND_RAW_DIR", DEFAULT_RAW_DIR),
            data_dir=os.environ.get("MEDIMIND_DATA_DIR", DEFAULT_DATA_DIR),
            base_model=os.environ.get("MEDIMIND_BASE_MODEL", DEFAULT_BASE_MODEL),
        )

    @property
    def raw_path(self) -> Path:
        return Path(self.raw_dir).expanduser().resolve()

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def dataset_path(self) -> Path:
        return self.data_path / "dataset.jsonl"

    @property
    def models_path(self) -> Path:
        """Base models built or converted locally, and `base_model.json`, the resolved current base model."""
        return self.data_path / "models"

    @property
    def checkpoints_path(self) -> Path:
        return self.data_path / "checkpoints"

    @property
    def adapters_path(self) -> Path:
        """Finished adapters, one folder per training fingerprint, and `current.json`, the promoted one."""
        return self.data_path / "adapters"

    @property
    def evaluations_path(self) -> Path:
        return self.data_path / "evaluations"

    @property
    def merged_path(self) -> Path:
        return self.data_path / "merged"
