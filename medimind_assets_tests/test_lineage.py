"""`medimind lineage`: from the promoted adapter back to the dataset version and the raw files, read from the
Dagster instance by a second process."""

import json
import os
import subprocess
import sys

import dagster as dg
import pytest

from medimind_assets import definitions
from medimind_assets.atomic import sha256_file
from medimind_assets.resources import MediMindSettings, SubprocessLauncher

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
    assets = [definitions.defs.get_assets_def(k) for k in ("raw_mediqa_qa", "raw_medquad", "dataset", "base_model")]
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            [*assets, definitions.defs.get_assets_def("lora_adapter")],
            resources={"settings": settings, "launcher": SubprocessLauncher()},
            run_config={"ops": {"lora_adapter": {"config": FAST_TRAINING}}},
            instance=instance,
        )
    assert result.success
    latest = json.loads((data_dir / "adapters" / "latest.json").read_text())
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
    assert any(line.startswith("base_model  data version") for line in lines)
    alexa = sample_data / "mediqa2019_qa/MEDIQA_Task3_QA/MEDIQA2019-Task3-QA-TrainingSet2-Alexa.xml"
    assert f"{sha256_file(alexa)}  MEDIQA_Task3_QA/{alexa.name}" in out
    assert any(line.startswith("raw_medquad  data version") for line in lines)


def test_lineage_without_a_promoted_adapter_is_a_clear_message(tmp_path, dagster_home):
    env = {**os.environ, "MEDIMIND_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "medimind_assets.cli", "lineage"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "no promoted adapter" in done.stderr and "Traceback" not in done.stderr
