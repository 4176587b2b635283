"""`medimind lineage`: from the promoted adapter back to the dataset version and the raw files, read from the
Dagster instance by a second process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from medimind_assets import definitions, lineage
from medimind_assets.data import sources
from medimind_assets.digests import sha256_file
from medimind_assets.resources import MediMindSettings, SubprocessLauncher
from medimind_assets.store import ArtifactStore

FAST_TRAINING = {"max_steps": 2, "batch_size": 4, "gradient_accumulation_steps": 1, "save_steps": 100}


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_lineage_walks_back_to_raw_files(tmp_path, sample_data, dagster_home):
    data_dir = tmp_path / "out"
    settings = MediMindSettings(raw_dir=str(sample_data), data_dir=str(data_dir), base_model="tiny-phi")
    keys = ("raw_mediqa_qa", "raw_medquad", "dataset", "base_model", "lora_adapter")
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            [definitions.defs().get_assets_def(k) for k in keys],
            selection=dg.AssetSelection.assets(*keys),  # the sources are observed first, as in medimind_pipeline
            resources={"settings": settings, "launcher": SubprocessLauncher()},
            run_config={"ops": {"lora_adapter": {"config": FAST_TRAINING}}},
            instance=instance,
        )
    assert result.success
    latest = json.loads((data_dir / "adapters" / "latest.json").read_text())
    # The adapter's metadata says what it came from, readable without matching hashes.
    [adapter] = result.asset_materializations_for_node("lora_adapter")
    dataset_version = sha256_file(data_dir / "dataset.jsonl")
    # A table the UI shows as it is, hashes cut to 12 characters; the full values in `lineage_full`.
    by_asset = {r.data["asset"]: r.data for r in adapter.metadata["lineage"].value.records}
    assert list(by_asset) == ["dataset", "raw_mediqa_qa", "raw_medquad", "base_model"]
    assert by_asset["dataset"]["version"] == dataset_version[:12] + "…"
    assert adapter.metadata["lineage_full"].value[0]["version"] == dataset_version
    assert by_asset["dataset"]["what"].endswith(" rows")
    # The dataset version kept under its content hash: lineage leads to a file that outlives the next build.
    kept = adapter.metadata["lineage_full"].value[0]["where"]
    assert kept.endswith(f"datasets/{dataset_version}.jsonl") and sha256_file(Path(kept)) == dataset_version
    mediqa_files = len(sources.snapshot(sample_data, sources.MEDIQA, counts=False).files)
    assert by_asset["raw_mediqa_qa"]["what"] == f"{mediqa_files} files" and by_asset["base_model"]["what"] == "tiny-phi"
    assert list(adapter.metadata)[:2] == ["loss_curve_summary", "lineage"]
    assert adapter.metadata["loss_curve_summary"].value.startswith(("train ", "validation "))
    # Promotion is the evaluation's job; point current.json at the adapter as a passing gate would.
    (data_dir / "adapters" / "current.json").write_text(json.dumps(latest))

    env = {**os.environ, "MEDIMIND_DATA_DIR": str(data_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "medimind_assets.cli", "lineage"], env=env, capture_output=True, text=True, check=True
    ).stdout
    lines = out.splitlines()
    assert lines[0].startswith(f"lora_adapter  data version {latest['fingerprint']}")
    dataset_version = sha256_file(data_dir / "dataset.jsonl")
    assert f"input dataset = {dataset_version}" in out
    assert any(line.startswith(f"dataset  data version {dataset_version}") for line in lines)
    assert f"    kept as {data_dir / 'datasets' / dataset_version}.jsonl" in lines
    assert any(line.startswith("base_model  data version") for line in lines)
    alexa = sample_data / "mediqa2019_qa/MEDIQA_Task3_QA/MEDIQA2019-Task3-QA-TrainingSet2-Alexa.xml"
    assert f"{sha256_file(alexa)}  MEDIQA_Task3_QA/{alexa.name}" in out
    assert any(line.startswith("raw_medquad  data version") for line in lines)
    # A kept version removed by hand (or an older retention) is said to be gone, not shown as if it were there.
    (data_dir / "datasets" / f"{dataset_version}.jsonl").unlink()
    out = subprocess.run(
        [sys.executable, "-m", "medimind_assets.cli", "lineage"], env=env, capture_output=True, text=True, check=True
    ).stdout
    gone = f"    kept as {data_dir / 'datasets' / dataset_version}.jsonl  (removed: the data folder no longer holds it)"
    assert gone in out.splitlines()


def test_lineage_finds_sources_observed_by_the_sensor_without_a_run():
    versions = {"raw_mediqa_qa": "m1", "raw_medquad": "q1"}
    with dg.instance_for_test() as instance:
        for key, version in versions.items():
            metadata = {"file_sha256": {f"{key}.xml": "ab" * 32}}
            instance.report_runless_asset_event(
                dg.AssetObservation(key, metadata=metadata, tags={"dagster/data_version": version})
            )
        tags = {"dagster/data_version": "d1", **{f"dagster/input_data_version/{k}": v for k, v in versions.items()}}
        instance.report_runless_asset_event(dg.AssetMaterialization("dataset", tags=tags))
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                "lora_adapter", tags={"dagster/data_version": "fp", "dagster/input_data_version/dataset": "d1"}
            )
        )
        chain = lineage.lineage_chain(instance, "fp")
    assert [(link.asset, link.data_version) for link in chain] == [
        ("lora_adapter", "fp"),
        ("dataset", "d1"),
        ("raw_mediqa_qa", "m1"),
        ("raw_medquad", "q1"),
    ]
    text = lineage.format_chain(chain)
    assert "raw_medquad  data version q1  (observed, no run)" in text
    assert f"{'ab' * 32}  raw_medquad.xml" in text


def test_lineage_without_a_promoted_adapter_is_a_clear_message(tmp_path, dagster_home):
    env = {**os.environ, "MEDIMIND_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "medimind_assets.cli", "lineage"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "no promoted adapter" in done.stderr and "Traceback" not in done.stderr


def test_a_file_edited_before_the_sensor_saw_it_is_listed_as_read(sample_copy, tmp_path):
    """The dataset records the hashes of the files it read; the version no observation had is observed with it, so
    lineage lists the edited file, not the one observed before."""
    settings = MediMindSettings(raw_dir=str(sample_copy), data_dir=str(tmp_path / "out"))
    defs = definitions.defs()
    with dg.instance_for_test() as instance:

        def run(*keys):
            assets = [defs.get_assets_def(k) for k in keys]
            selection = dg.AssetSelection.assets(*keys)
            result = dg.materialize(assets, selection=selection, resources={"settings": settings}, instance=instance)
            assert result.success
            return result

        run("raw_mediqa_qa", "raw_medquad", "dataset")
        alexa = sample_copy / "mediqa2019_qa/MEDIQA_Task3_QA/MEDIQA2019-Task3-QA-TrainingSet2-Alexa.xml"
        alexa.write_bytes(alexa.read_bytes().replace(b"influenza", b"Influenza", 1))
        [built] = run("dataset").asset_materializations_for_node("dataset")
        version = built.tags["dagster/data_version"]
        read = built.metadata["raw_data_versions"].value["raw_mediqa_qa"]
        assert built.tags["dagster/input_data_version/raw_mediqa_qa"] != read  # the observation it was started on
        rows = lineage.lineage_rows(instance, version, {"name": "tiny-phi"})
        assert {r["asset"]: r["version"] for r in rows}["raw_mediqa_qa"] == read
        [dataset_link] = [lineage._find(instance, "dataset", version)]
        source = lineage._find(instance, "raw_mediqa_qa", lineage.raw_versions(dataset_link)["raw_mediqa_qa"], True)
        assert source.metadata["file_sha256"][alexa.relative_to(sample_copy / "mediqa2019_qa").as_posix()] == (
            sha256_file(alexa)
        )


def test_lineage_follows_the_dataset_the_adapter_trained_on_and_says_when_the_tag_differs(tmp_path):
    """Dagster's input tag is taken as the step starts; the adapter records the file it read. A dataset step that
    published and then failed (or a rebuild meanwhile) makes them differ: the chain follows what was trained on."""
    fingerprint = "f" * 64
    kept = tmp_path / "datasets" / "d_new.jsonl"
    kept.parent.mkdir()
    kept.write_text("{}\n")
    with dg.instance_for_test() as instance:
        for version, source_version in (("d_old", "q_old"), ("d_new", "q_new")):
            tags = {"dagster/data_version": version, "dagster/input_data_version/raw_medquad": source_version}
            metadata = {"raw_data_versions": {"raw_medquad": source_version}, "versioned_path": str(kept)}
            instance.report_runless_asset_event(dg.AssetMaterialization("dataset", tags=tags, metadata=metadata))
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                "lora_adapter",
                tags={"dagster/data_version": fingerprint, "dagster/input_data_version/dataset": "d_old"},
                metadata={"identifiers": dg.MetadataValue.json({"dataset_version": "d_new"})},
            )
        )
        chain = lineage.lineage_chain(instance, fingerprint[:12])  # the short form the UI shows
    assert [(link.asset, link.data_version) for link in chain][:2] == [
        ("lora_adapter", fingerprint),
        ("dataset", "d_new"),
    ]
    text = lineage.format_chain(chain)
    assert "input dataset = d_new" in text and "input raw_medquad = q_new" in text and "q_old" not in text
    assert "warning: Dagster's input tag names dataset d_old, but the adapter was trained on d_new" in text
    # The kept file's name is its content hash: a file changed since says so.
    assert f"kept as {kept}  (damaged: its sha256 is now" in text
    # The data folder moved: the version is looked for in the folder given, not called removed.
    moved = tmp_path / "moved"
    moved.mkdir()
    (tmp_path / "datasets").rename(moved / "datasets")
    text = lineage.format_chain(chain, ArtifactStore.at(moved))
    assert f"kept as {moved / 'datasets' / 'd_new.jsonl'}  (damaged" in text and "removed" not in text
    assert "(removed: the data folder no longer holds it)" in lineage.format_chain(chain)
