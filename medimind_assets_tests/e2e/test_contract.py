"""The end-to-end contract checks themselves: they pass a complete record and name what a broken one lacks
(fast; no services)."""

from __future__ import annotations

from medimind_assets_tests.e2e import contract
from medimind_assets_tests.e2e.webui_graphql import AssetState, Materialization

DIGEST = "a" * 64


def _mat(metadata: dict, tags: dict | None = None, types: dict | None = None) -> Materialization:
    kinds = {label: "FloatMetadataEntry" for label in metadata} | (types or {})
    return Materialization(run_id="r1", tags=tags or {}, metadata=metadata, metadata_types=kinds)


def _adapter_metadata() -> dict:
    return {
        "hyperparameters": {"lora_r": 8, "learning_rate": 0.01, "max_steps": 20},
        "loss_curve": [{"step": 10, "train_loss": 7.5, "validation_loss": None}],
        "final_train_loss": 7.4,
        "final_validation_loss": 7.5,
        "fingerprint": "f" * 64,
    }


def test_complete_adapter_record_passes_and_each_missing_entry_is_named():
    assert contract.adapter_problems(_mat(_adapter_metadata()), expected_max_steps=20) == []
    broken = _adapter_metadata()
    del broken["final_validation_loss"], broken["fingerprint"]
    broken["hyperparameters"] = {"learning_rate": 0.01, "max_steps": 50}
    problems = " | ".join(contract.adapter_problems(_mat(broken), expected_max_steps=20))
    for expected in ("final_validation_loss", "fingerprint", "lora_r", "max_steps 50"):
        assert expected in problems


def test_dataset_record_must_match_its_file_and_its_raw_inputs():
    versions = {"raw_mediqa_qa": "m1", "raw_medquad": "q1"}
    tags = {"dagster/data_version": DIGEST, **{f"dagster/input_data_version/{k}": v for k, v in versions.items()}}
    meta = {
        "dagster/row_count": 10,
        "rows/split/train": 6,
        "rows/split/validation": 1,
        "rows/split/test": 3,
        "sha256": DIGEST,
        "raw_data_versions": versions,
    }
    assert contract.dataset_problems(_mat(meta, tags), dataset_sha256=DIGEST) == []
    stale = contract.dataset_problems(_mat({**meta, "raw_data_versions": {**versions, "raw_medquad": "old"}}, tags))
    assert any("raw_data_versions" in p for p in stale)
    assert any("not the hash" in p for p in contract.dataset_problems(_mat(meta, tags), dataset_sha256="b" * 64))


def test_evaluation_delta_must_be_adapter_minus_base():
    good = {"adapter/loss": 2.0, "base/loss": 2.5, "delta/loss": -0.5}
    assert contract.evaluation_problems(_mat(good)) == []
    assert contract.evaluation_problems(_mat({**good, "delta/loss": 0.5}))
    assert contract.evaluation_problems(_mat({"adapter/loss": 2.0}))


def test_lineage_needs_the_parents_current_data_versions():
    def state(key: str, parents: list[str], version: str, inputs: dict[str, str]) -> AssetState:
        tags = {"dagster/data_version": version, **{f"dagster/input_data_version/{k}": v for k, v in inputs.items()}}
        return AssetState(key=key, job_names=["j"], parents=parents, latest=_mat({}, tags))

    upstream = {"lora_adapter": state("lora_adapter", [], "v2", {})}
    assert contract.lineage_problems(state("evaluation", ["lora_adapter"], "e", {"lora_adapter": "v2"}), upstream) == []
    stale = contract.lineage_problems(state("evaluation", ["lora_adapter"], "e", {"lora_adapter": "v1"}), upstream)
    assert stale and "v1" in stale[0]
    untagged = contract.lineage_problems(state("evaluation", ["lora_adapter"], "e", {}), upstream)
    assert untagged and "no dagster/input_data_version/lora_adapter" in untagged[0]
    assert contract.lineage_problems(state("evaluation", [], "e", {}), upstream)  # the graph lost its edge
