"""What one training run needs, as the Pipes extras the `lora_adapter` asset sends to the training script.

Built and checked on the Dagster side (no torch), re-checked in the script: the dataset on disk must still be
the version the asset hashed, and the fingerprint must be the one these inputs give.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medimind_assets.data.rows import DatasetError, count_rows
from medimind_assets.digests import sha256_file
from medimind_assets.errors import MediMindError
from medimind_assets.training.hyperparameters import TrainingHyperparameters

FINGERPRINT_VERSION = 1
MANIFEST_KEYS_USED = ("name", "path", "revision", "content_hash", "architecture", "model_type", "target_modules")


class RequestError(MediMindError, ValueError):
    """Pipes extras that do not describe a training run; the message says which part."""


def compute_fingerprint(data_version: str, base_model: dict[str, Any], hyperparameters: TrainingHyperparameters) -> str:
    """sha256 over the dataset version, the base model's identity and the result-affecting hyperparameters."""
    payload = {
        "version": FINGERPRINT_VERSION,
        "data_version": data_version,
        "base_model": {key: base_model.get(key) for key in ("name", "revision", "content_hash")},
        "hyperparameters": hyperparameters.result_affecting(),
    }
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


@dataclass(frozen=True)
class TrainingRequest:
    dataset_path: str
    data_version: str
    row_counts: dict[str, int]
    base_model: dict[str, Any]
    hyperparameters: TrainingHyperparameters
    checkpoints_dir: str
    adapters_dir: str
    fingerprint: str
    force: bool = False

    @classmethod
    def create(
        cls,
        dataset_path: Path,
        base_model: dict[str, Any],
        hyperparameters: TrainingHyperparameters,
        checkpoints_dir: Path,
        adapters_dir: Path,
        force: bool = False,
    ) -> TrainingRequest:
        """Hash the dataset, count its rows and fingerprint the run (raises on a bad input)."""
        hyperparameters.validate()
        _check_manifest(base_model)
        row_counts = count_rows(Path(dataset_path))
        if row_counts["train"] == 0:
            raise DatasetError(f"{dataset_path}: the train split is empty ({row_counts}); nothing to train on")
        data_version = sha256_file(Path(dataset_path))
        return cls(
            dataset_path=str(Path(dataset_path).resolve()),
            data_version=data_version,
            row_counts=row_counts,
            base_model=dict(base_model),
            hyperparameters=hyperparameters,
            checkpoints_dir=str(Path(checkpoints_dir).resolve()),
            adapters_dir=str(Path(adapters_dir).resolve()),
            fingerprint=compute_fingerprint(data_version, base_model, hyperparameters),
            force=force,
        )

    @property
    def checkpoint_dir(self) -> Path:
        return Path(self.checkpoints_dir) / self.fingerprint

    @property
    def adapter_dir(self) -> Path:
        return Path(self.adapters_dir) / self.fingerprint

    def to_extras(self) -> dict[str, Any]:
        return {
            "dataset": {
                "path": self.dataset_path,
                "data_version": self.data_version,
                "row_counts": self.row_counts,
            },
            "base_model": self.base_model,
            "hyperparameters": self.hyperparameters.to_dict(),
            "output": {"checkpoints_dir": self.checkpoints_dir, "adapters_dir": self.adapters_dir},
            "fingerprint": self.fingerprint,
            "force": self.force,
        }

    @classmethod
    def from_extras(cls, extras: dict[str, Any]) -> TrainingRequest:
        try:
            dataset, output = extras["dataset"], extras["output"]
            request = cls(
                dataset_path=dataset["path"],
                data_version=dataset["data_version"],
                row_counts=dict(dataset["row_counts"]),
                base_model=dict(extras["base_model"]),
                hyperparameters=TrainingHyperparameters.from_dict(extras["hyperparameters"]),
                checkpoints_dir=output["checkpoints_dir"],
                adapters_dir=output["adapters_dir"],
                fingerprint=extras["fingerprint"],
                force=bool(extras.get("force", False)),
            )
        except (KeyError, TypeError) as error:
            raise RequestError(f"Pipes extras are missing {error} (got keys {sorted(extras)})") from None
        _check_manifest(request.base_model)
        return request

    def verify(self) -> None:
        """The dataset is still the hashed version and the fingerprint matches the inputs."""
        on_disk = sha256_file(Path(self.dataset_path))
        if on_disk != self.data_version:
            raise DatasetError(
                f"{self.dataset_path} changed after the run started (sha256 {on_disk[:12]}, expected "
                f"{self.data_version[:12]}); materialize lora_adapter again"
            )
        expected = compute_fingerprint(self.data_version, self.base_model, self.hyperparameters)
        if expected != self.fingerprint:
            raise RequestError(f"fingerprint {self.fingerprint[:12]} does not match the inputs ({expected[:12]})")


def _check_manifest(manifest: dict[str, Any]) -> None:
    missing = [key for key in MANIFEST_KEYS_USED if key not in manifest]
    if missing:
        raise RequestError(
            f"base model manifest {manifest.get('name', '?')!r} has no {', '.join(missing)}; "
            "re-materialize the `base_model` asset"
        )
