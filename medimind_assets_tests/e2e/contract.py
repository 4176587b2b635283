"""What each asset's materialization must record (the metadata contract), as checks that list every problem.

Each function returns human-readable problems, empty when the materialization honours the contract, so an
end-to-end run reports everything that is wrong at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from medimind_assets_tests.e2e.webui_graphql import AssetState, Materialization

SPLITS = ("train", "validation", "test")
HYPERPARAMETER_KEYS = ("lora_r", "learning_rate")
# Which parents' data versions each downstream materialization must record (a subset of its declared deps).
REQUIRED_INPUTS = {
    "dataset": ("raw_mediqa_qa", "raw_medquad"),
    "base_model": ("dataset",),
    "lora_adapter": ("base_model", "dataset"),
    "evaluation": ("lora_adapter",),
}


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _find(metadata: Mapping[str, Any], name: str) -> tuple[str, Any] | None:
    """An entry called `name`, bare or namespaced (`train/final_train_loss`)."""
    for label, value in metadata.items():
        if label == name or label.endswith("/" + name):
            return label, value
    return None


def dataset_problems(mat: Materialization, dataset_sha256: str | None = None) -> list[str]:
    meta, problems = mat.metadata, []
    rows = meta.get("dagster/row_count")
    if not (isinstance(rows, int) and rows > 0):
        problems.append(f"dataset: dagster/row_count should be a positive int, got {rows!r}")
    split_counts = {label.split("/", 2)[2]: v for label, v in meta.items() if label.startswith("rows/split/")}
    missing = [s for s in SPLITS if s not in split_counts]
    if missing:
        problems.append(f"dataset: no rows/split/{{{','.join(missing)}}} metadata (have {sorted(split_counts)})")
    elif isinstance(rows, int) and sum(split_counts.values()) != rows:
        problems.append(f"dataset: rows/split/* sum to {sum(split_counts.values())}, row_count is {rows}")
    digest = meta.get("sha256")
    if not (isinstance(digest, str) and len(digest) == 64):
        problems.append(f"dataset: sha256 should be a hex digest, got {digest!r}")
    else:
        if mat.data_version != digest:
            problems.append(f"dataset: data version {mat.data_version} differs from its sha256 {digest}")
        if dataset_sha256 is not None and digest != dataset_sha256:
            problems.append(f"dataset: sha256 {digest} is not the hash of dataset.jsonl on disk ({dataset_sha256})")
    raw_versions = meta.get("raw_data_versions")
    if not isinstance(raw_versions, dict) or not raw_versions:
        problems.append(f"dataset: raw_data_versions should be a JSON object, got {raw_versions!r}")
    elif raw_versions != {k: v for k, v in mat.input_data_versions().items() if k in raw_versions}:
        problems.append(
            f"dataset: raw_data_versions {raw_versions} disagree with the input data versions Dagster recorded "
            f"{mat.input_data_versions()}"
        )
    return problems


def adapter_problems(mat: Materialization, expected_max_steps: int | None = None) -> list[str]:
    meta, problems = mat.metadata, []
    hyper = meta.get("hyperparameters") if isinstance(meta.get("hyperparameters"), dict) else {}
    for key in HYPERPARAMETER_KEYS:
        found = _find(meta, key)
        value = found[1] if found else hyper.get(key)
        if not _is_finite_number(value):
            problems.append(f"lora_adapter: hyperparameter {key} not recorded (as a key or in `hyperparameters`)")
    if expected_max_steps is not None:
        found = _find(meta, "max_steps")
        steps = found[1] if found else hyper.get("max_steps")
        if steps is not None and steps != expected_max_steps:
            problems.append(f"lora_adapter: ran with max_steps {steps}, the run config asked for {expected_max_steps}")
    curves = [
        label
        for label, kind in mat.metadata_types.items()
        if "curve" in label.lower()
        or (kind == "TableMetadataEntry" and any("loss" in str(col) for row in meta[label] or [] for col in row))
    ]
    if not curves:
        problems.append("lora_adapter: no loss curve (a table or plot entry named *curve* or with a loss column)")
    for name in ("final_train_loss", "final_validation_loss"):
        found = _find(meta, name)
        if not found or not _is_finite_number(found[1]):
            problems.append(f"lora_adapter: {name} should be a finite number, got {found and found[1]!r}")
    fingerprints = [label for label, value in meta.items() if "fingerprint" in label and value]
    if not fingerprints:
        problems.append("lora_adapter: no fingerprint entry")
    return problems


def evaluation_problems(mat: Materialization) -> list[str]:
    meta, problems = mat.metadata, []
    values = {key: meta.get(key) for key in ("adapter/loss", "base/loss", "delta/loss")}
    bad = [key for key, value in values.items() if not _is_finite_number(value)]
    if bad:
        problems.append(f"evaluation: {', '.join(bad)} should be finite numbers, got {values}")
    elif not math.isclose(
        values["delta/loss"], values["adapter/loss"] - values["base/loss"], rel_tol=1e-3, abs_tol=1e-3
    ):  # each shown to 4 significant digits
        problems.append(f"evaluation: delta/loss is not adapter/loss - base/loss: {values}")
    return problems


def lineage_problems(state: AssetState, upstream: Mapping[str, AssetState | None]) -> list[str]:
    """The materialization records, as `dagster/input_data_version/<parent>` tags, the data version of the
    parent materialization (observation, for a raw source) it read, for every parent it declares and at least the
    required ones."""
    mat = state.latest
    if mat is None:
        return [f"{state.key}: not materialized"]
    recorded = mat.input_data_versions()
    problems = []
    required = set(REQUIRED_INPUTS.get(state.key, ())) | set(state.parents)
    for parent in sorted(required):
        if parent not in state.parents:
            problems.append(f"{state.key}: does not depend on {parent} (deps: {state.parents})")
            continue
        if parent not in recorded:
            problems.append(f"{state.key}: no dagster/input_data_version/{parent} tag (tags: {sorted(mat.tags)})")
            continue
        parent_state = upstream.get(parent)
        parent_latest = parent_state.latest if parent_state else None
        parent_version = parent_latest.data_version if parent_latest else None
        if recorded[parent] != parent_version:
            event = "observation" if parent_latest and parent_latest.observed else "materialization"
            problems.append(
                f"{state.key}: recorded input data version {recorded[parent]} for {parent}, whose latest "
                f"{event} has data version {parent_version}"
            )
    return problems
