"""What one training run needs, as the Pipes extras the `lora_adapter` asset sends to the training script.

Built and checked on the Dagster side (no torch), re-checked in the script: the dataset on disk must still be
the version the asset hashed, and the fingerprint must be the one these inputs give.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medimind_assets.data.rows import DatasetError, read_dataset, split_counts
from medimind_assets.digests import sha256_file
from medimind_assets.errors import MediMindError
from medimind_assets.models.model_dir import model_context
from medimind_assets.store import ArtifactStore
from medimind_assets.training.hyperparameters import TrainingHyperparameters

# 2: trained with trl (SFTTrainer, and DPOTrainer for the preference stage) instead of our own step trainer.
FINGERPRINT_VERSION = 2
MANIFEST_KEYS_USED = ("name", "path", "revision", "content_hash", "architecture", "model_type", "target_modules")


class RequestError(MediMindError, ValueError):
    """Pipes extras that do not describe a training run; the message says which part."""


def compute_fingerprint(
    data_version: str,
    base_model: dict[str, Any],
    hyperparameters: TrainingHyperparameters,
    preference_version: str | None = None,
    world_size: int = 1,
) -> str:
    """sha256 over the dataset version, the base model's identity, the result-affecting hyperparameters, with a
    preference stage the version of its pairs, and with more than one training process their number (each adds a
    batch to every optimizer step)."""
    payload = {
        "version": FINGERPRINT_VERSION,
        "data_version": data_version,
        "base_model": {key: base_model.get(key) for key in ("name", "revision", "content_hash")},
        "hyperparameters": hyperparameters.result_affecting(),
    }
    if preference_version is not None:
        payload["preference_pairs"] = preference_version
    if world_size != 1:
        payload["world_size"] = world_size
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


@dataclass(frozen=True)
class TrainingRequest:
    dataset_path: str
    data_version: str
    row_counts: dict[str, int]
    base_model: dict[str, Any]
    hyperparameters: TrainingHyperparameters
    data_root: str  # the data folder (medimind_assets.store): checkpoints, adapters and caches live under it
    fingerprint: str
    force: bool = False
    # With a preference stage: {"path", "data_version", "counts"} of its pairs (training.preference).
    preference: dict[str, Any] | None = None
    world_size: int = 1  # training processes (`num_processes`)

    @classmethod
    def create(
        cls,
        dataset_path: Path,
        base_model: dict[str, Any],
        hyperparameters: TrainingHyperparameters,
        data_root: Path,
        force: bool = False,
        raw_dir: Path | None = None,
        world_size: int = 1,
    ) -> TrainingRequest:
        """Hash the dataset, count its rows, build the preference pairs (from `raw_dir`) when asked for, and
        fingerprint the run (raises on a bad input)."""
        hyperparameters.validate()
        _check_manifest(base_model)
        _refuse_over_context(base_model, hyperparameters)
        rows = read_dataset(Path(dataset_path))
        row_counts = split_counts(rows)
        if row_counts["train"] == 0:
            raise DatasetError(f"{dataset_path}: the train split is empty ({row_counts}); nothing to train on")
        data_version = sha256_file(Path(dataset_path))
        preference = None
        if hyperparameters.preference != "none":
            preference = _preference_pairs(rows, raw_dir, hyperparameters, ArtifactStore.at(data_root).cache)
        # `auto` becomes what runs, so the fingerprint and the record name the same run as an explicit choice would.
        hyperparameters = dataclasses.replace(hyperparameters, preference="dpo" if preference else "none")
        return cls(
            dataset_path=str(Path(dataset_path).resolve()),
            data_version=data_version,
            row_counts=row_counts,
            base_model=dict(base_model),
            hyperparameters=hyperparameters,
            data_root=str(ArtifactStore.at(data_root).root),
            fingerprint=compute_fingerprint(
                data_version, base_model, hyperparameters, preference and preference["data_version"], world_size
            ),
            force=force,
            preference=preference,
            world_size=world_size,
        )

    @property
    def store(self) -> ArtifactStore:
        return ArtifactStore(Path(self.data_root))

    @property
    def checkpoint_dir(self) -> Path:
        return self.store.checkpoints / self.fingerprint

    @property
    def sft_checkpoint_dir(self) -> Path:
        """The SFT stage's checkpoints: named by the run without its preference stage, so runs that differ only in
        that stage share (and resume from) one SFT."""
        sft = dataclasses.replace(self.hyperparameters, preference="none")
        return self.store.checkpoints / compute_fingerprint(
            self.data_version, self.base_model, sft, world_size=self.world_size
        )

    @property
    def adapter_dir(self) -> Path:
        return self.store.adapters / self.fingerprint

    def to_extras(self) -> dict[str, Any]:
        return {
            "dataset": {"path": self.dataset_path, "data_version": self.data_version, "row_counts": self.row_counts},
            "base_model": self.base_model,
            "hyperparameters": dataclasses.asdict(self.hyperparameters),
            "data_root": self.data_root,
            "fingerprint": self.fingerprint,
            "force": self.force,
            "preference": self.preference,
            "world_size": self.world_size,
        }

    @classmethod
    def from_extras(cls, extras: dict[str, Any]) -> TrainingRequest:
        try:
            dataset = extras["dataset"]
            request = cls(
                dataset_path=dataset["path"],
                data_version=dataset["data_version"],
                row_counts=dict(dataset["row_counts"]),
                base_model=dict(extras["base_model"]),
                hyperparameters=TrainingHyperparameters.from_dict(extras["hyperparameters"]),
                data_root=extras["data_root"],
                fingerprint=extras["fingerprint"],
                force=bool(extras.get("force", False)),
                preference=extras.get("preference"),
                world_size=int(extras.get("world_size", 1)),
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
        pairs_version = None
        if self.preference is not None:
            pairs_version = self.preference["data_version"]
            if sha256_file(Path(self.preference["path"])) != pairs_version:
                raise DatasetError(f"{self.preference['path']} changed after the run started; materialize again")
        expected = compute_fingerprint(
            self.data_version, self.base_model, self.hyperparameters, pairs_version, self.world_size
        )
        if expected != self.fingerprint:
            raise RequestError(f"fingerprint {self.fingerprint[:12]} does not match the inputs ({expected[:12]})")


def _check_manifest(manifest: dict[str, Any]) -> None:
    missing = [key for key in MANIFEST_KEYS_USED if key not in manifest]
    if missing:
        raise RequestError(
            f"base model manifest {manifest.get('name', '?')!r} has no {', '.join(missing)}; "
            "re-materialize the `base_model` asset"
        )


def _refuse_over_context(manifest: dict[str, Any], hyperparameters: TrainingHyperparameters) -> None:
    """Positions past the base model's context were never learned: refused here, before a process launches and
    loads the model, not after."""
    context = model_context(Path(manifest["path"]))
    for name in ("max_length", "preference_max_length"):
        if context and getattr(hyperparameters, name) > context:
            raise RequestError(
                f"{name}={getattr(hyperparameters, name)} exceeds the context of base model {manifest['name']!r} "
                f"({context} tokens): lower it to at most {context}"
            )


def _preference_pairs(
    rows: list[dict], raw_dir: Path | None, hyperparameters: TrainingHyperparameters, cache_dir: Path
) -> dict[str, Any] | None:
    """The pairs' file, version and counts; None under `auto` when there are none (SFT alone)."""
    from medimind_assets.training.preference import build_pairs, pairs_possible, write_pairs

    auto = hyperparameters.preference == "auto"
    if auto and not pairs_possible(rows, raw_dir):
        return None
    if raw_dir is None:
        raise RequestError("preference tuning needs the raw MEDIQA 2019 files (raw_dir) for its incorrect answers")
    pairs, counts = build_pairs(rows, Path(raw_dir), hyperparameters.preference_max_pairs, hyperparameters.seed)
    if not pairs:
        if auto:
            return None
        raise DatasetError(f"no preference pairs: no MEDIQA training question of the train split has both ({counts})")
    path, version = write_pairs(pairs, cache_dir)
    return {"path": str(path), "data_version": version, "counts": counts}
