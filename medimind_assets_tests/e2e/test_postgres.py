"""The production instance config (deploy/dagster.yaml) on a real PostgreSQL server: the CLI observes the raw
sources and materializes the dataset and tiny-phi in one process; a second process reads the lineage back from the
database."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from medimind_assets_tests.e2e.environment import (
    DEPLOY_INSTANCE_CONFIG,
    PROJECT_ROOT,
    pipeline_env,
    require_tool,
    sha256_file,
    write_instance_config,
)
from medimind_assets_tests.e2e.postgres_server import Connection, missing_reason, postgres_server

ASSETS = ("raw_mediqa_qa", "raw_medquad", "dataset", "base_model")
DATASET_CHECKS = {"schema", "unique", "split_by_question", "test_isolation", "safety_levels", "min_rows"}
MATERIALIZE_TIMEOUT_S = 240

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def database() -> Iterator[Connection]:
    require_tool(missing_reason())
    with postgres_server() as connection:
        yield connection


@pytest.fixture(scope="module")
def instance_env(database: Connection, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("postgres")
    home = root / "dagster_home"
    write_instance_config(home, DEPLOY_INSTANCE_CONFIG)
    return {**pipeline_env(root / "data", home), **database.dagster_env()}


def _run(command: list[str], env: dict[str, str], what: str, timeout: float) -> str:
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{what} failed ({result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def lineage(instance_env: dict[str, str]) -> dict:
    materialize = [
        sys.executable, "-m", "dagster", "asset", "materialize",
        "-m", "medimind_assets.definitions", "--select", ",".join(ASSETS),
    ]  # fmt: skip
    _run(materialize, instance_env, "dagster asset materialize", MATERIALIZE_TIMEOUT_S)
    reader = [sys.executable, "-m", "medimind_assets_tests.e2e.read_lineage", *ASSETS]
    return json.loads(_run(reader, instance_env, "reading the lineage back", 120))


def test_instance_keeps_everything_in_postgres(lineage: dict, instance_env: dict[str, str]) -> None:
    assert lineage["storage"] == {
        "runs": "PostgresRunStorage",
        "event_log": "PostgresEventLogStorage",
        "schedules": "PostgresScheduleStorage",
    }
    assert lineage["default_pool_limit"] == 1, "deploy/dagster.yaml should limit the gpu pool to 1"
    home = Path(instance_env["DAGSTER_HOME"])
    sqlite_files = sorted(str(p.relative_to(home)) for p in home.rglob("*.db"))
    assert not sqlite_files, f"SQLite storage written next to the PostgreSQL instance: {sqlite_files}"


def test_lineage_reads_back_from_a_second_process(lineage: dict, instance_env: dict[str, str]) -> None:
    assets = lineage["assets"]
    assert all(assets[key] for key in ASSETS), f"not materialized: {[k for k in ASSETS if not assets[k]]}"
    run_ids = {assets[key]["run_id"] for key in ASSETS}
    assert len(run_ids) == 1, f"the assets came from several runs: {run_ids}"
    assert {assets[key]["run_status"] for key in ASSETS} == {"SUCCESS"}
    # The raw sources are observed, never materialized; their observation lists every file's sha256.
    assert {key: assets[key]["event"] for key in ASSETS} == {
        "raw_mediqa_qa": "observation",
        "raw_medquad": "observation",
        "dataset": "materialization",
        "base_model": "materialization",
    }
    assert all(assets[key]["metadata"]["file_sha256"] for key in ("raw_mediqa_qa", "raw_medquad"))

    dataset = assets["dataset"]
    on_disk = sha256_file(Path(instance_env["MEDIMIND_DATA_DIR"]) / "dataset.jsonl")
    assert dataset["data_version"] == dataset["metadata"]["sha256"] == on_disk
    assert dataset["metadata"]["dagster/row_count"] > 0
    # The dataset recorded the raw sources' versions it read, and they are the versions the sources reported.
    raw_versions = {key: assets[key]["data_version"] for key in ("raw_mediqa_qa", "raw_medquad")}
    assert all(raw_versions.values())
    assert dataset["input_data_versions"] == raw_versions
    assert dataset["metadata"]["raw_data_versions"] == raw_versions
    assert assets["base_model"]["input_data_versions"] == {"dataset": dataset["data_version"]}
    assert dataset["checks"] == dict.fromkeys(DATASET_CHECKS, True)
