"""The dataset asset through real Dagster runs that observe the raw sources first (as medimind_pipeline does):
metadata, data versions, checks, and nothing lost on bad input."""

import shutil

import dagster as dg
import pytest

from medimind_assets.assets.dataset import dataset
from medimind_assets.assets.sources import raw_mediqa_qa, raw_medquad
from medimind_assets.checks import dataset_checks
from medimind_assets.digests import sha256_file
from medimind_assets.resources import MediMindSettings

ASSETS = [raw_mediqa_qa, raw_medquad, dataset]


def run(raw, data_dir, instance, config=None, raise_on_error=True):
    return dg.materialize(
        ASSETS + [dataset_checks],
        selection=dg.AssetSelection.assets(*ASSETS),  # observable sources are only run when selected
        resources={"settings": MediMindSettings(raw_dir=str(raw), data_dir=str(data_dir))},
        instance=instance,
        run_config={"ops": {"dataset": {"config": config}}} if config else None,
        raise_on_error=raise_on_error,
    )


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def raw_copy(tmp_path, shared_data):
    """The real MEDIQA files plus one small MedQuAD collection, writable."""
    raw = tmp_path / "raw"
    shutil.copytree(shared_data / "mediqa2019_qa", raw / "mediqa2019_qa")
    shutil.copytree(shared_data / "medquad" / "9_CDC_QA", raw / "medquad" / "9_CDC_QA")
    return raw


def materializations(result, key):
    return [
        e.event_specific_data.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key.path == [key]
    ]


def observations(result, key):
    return [
        e.event_specific_data.asset_observation
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION" and e.asset_key.path == [key]
    ]


def test_dataset_from_real_files_with_metadata_and_passing_checks(raw_copy, tmp_path, instance):
    result = run(raw_copy, tmp_path / "out", instance)
    assert result.success
    path = tmp_path / "out" / "dataset.jsonl"
    mat = materializations(result, "dataset")[0]
    meta = mat.metadata
    assert meta["dagster/row_count"].value == len(path.read_text(encoding="utf-8").splitlines())
    assert meta["sha256"].value == sha256_file(path)
    assert mat.tags["dagster/data_version"] == sha256_file(path)
    assert meta["rows/split/test"].value > 0 and meta["rows/source/medquad"].value > 0
    assert meta["rejected/mediqa_incorrect_answer"].value == 1742
    raw_versions = meta["raw_data_versions"].value
    assert materializations(result, "raw_mediqa_qa") == []  # observed, never materialized
    [source] = observations(result, "raw_mediqa_qa")
    assert raw_versions["raw_mediqa_qa"] == source.tags["dagster/data_version"]
    assert raw_versions["raw_mediqa_qa"] == mat.tags["dagster/input_data_version/raw_mediqa_qa"]
    assert raw_versions["raw_medquad"] == mat.tags["dagster/input_data_version/raw_medquad"]
    assert source.metadata["upstream_commit"].value == "ae5d3826d6c841923b9db831159fef0f1b893593"
    assert source.metadata["files_matching_upstream"].value == source.metadata["file_count"].value
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 6 and all(c.passed for c in checks)


def test_unchanged_inputs_give_the_same_data_version(raw_copy, tmp_path, instance):
    first = materializations(run(raw_copy, tmp_path / "out", instance), "dataset")[0]
    second = materializations(run(raw_copy, tmp_path / "out", instance), "dataset")[0]
    assert first.tags["dagster/data_version"] == second.tags["dagster/data_version"]


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:5000]), "malformed or truncated XML"),
        (
            lambda p: p.write_bytes(p.read_bytes().replace(b'ReferenceScore="4"', b'ReferenceScore="great"', 1)),
            'ReferenceScore="great"',
        ),
    ],
)
def test_bad_input_fails_the_run_and_keeps_the_last_good_dataset(raw_copy, tmp_path, instance, breakage, message):
    out = tmp_path / "out"
    assert run(raw_copy, out, instance).success
    before = sha256_file(out / "dataset.jsonl")
    breakage(raw_copy / "mediqa2019_qa" / "MEDIQA_Task3_QA" / "MEDIQA2019-Task3-QA-TrainingSet2-Alexa.xml")
    result = run(raw_copy, out, instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "MEDIQA2019-Task3-QA-TrainingSet2-Alexa.xml" in str(failure.step_failure_data.error) and message in str(
        failure.step_failure_data.error
    )
    assert sha256_file(out / "dataset.jsonl") == before
    assert sorted(p.name for p in out.iterdir()) == ["dataset.jsonl", "datasets"]  # no temporary file left behind
    assert [p.name for p in (out / "datasets").iterdir()] == [sha256_file(out / "dataset.jsonl") + ".jsonl"]


def test_a_source_gone_since_its_observation_fails_before_anything_is_written(raw_copy, tmp_path, instance):
    """`dataset` alone (as automation or `medimind launch dataset` runs it) after MedQuAD's folder was emptied: the
    run fails naming the folder, and neither dataset.jsonl nor the kept versions change."""
    out = tmp_path / "out"
    assert run(raw_copy, out, instance).success
    before, kept = sha256_file(out / "dataset.jsonl"), sorted((out / "datasets").iterdir())
    shutil.rmtree(raw_copy / "medquad" / "9_CDC_QA")
    (raw_copy / "medquad" / "9_CDC_QA").mkdir()
    result = dg.materialize(
        ASSETS,
        selection=dg.AssetSelection.assets(dataset),
        resources={"settings": MediMindSettings(raw_dir=str(raw_copy), data_dir=str(out))},
        instance=instance,
        raise_on_error=False,
    )
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert f"{raw_copy / 'medquad'}: no medquad XML files here" in str(failure.step_failure_data.error)
    assert sha256_file(out / "dataset.jsonl") == before and sorted((out / "datasets").iterdir()) == kept


def test_failing_validation_publishes_nothing(raw_copy, tmp_path, instance):
    out = tmp_path / "out"
    result = run(raw_copy, out, instance, config={"min_rows": 10**6}, raise_on_error=False)
    assert not result.success
    assert not (out / "dataset.jsonl").exists()
    assert (out / "dataset.rejected.jsonl").exists()
    assert result.get_asset_check_evaluations() == []  # the checks never ran on a dataset that was not published


def test_the_blocking_check_holds_the_dataset_to_the_min_rows_it_was_built_with(raw_copy, tmp_path, instance):
    result = run(raw_copy, tmp_path / "out", instance, config={"min_rows": 7})
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "min_rows"]
    assert check.passed and check.description.startswith("at least 7 rows")


@pytest.mark.parametrize("retries", [0, 1])
def test_an_unreachable_download_is_a_clear_error_at_once(tmp_path, instance, retries):
    settings = MediMindSettings(
        raw_dir=str(tmp_path / "nowhere"),
        data_dir=str(tmp_path),
        download_retries=retries,
        download_retry_wait_seconds=0,
        source_urls={"mediqa2019_qa": "http://127.0.0.1:9/unreachable"},
    )
    result = dg.materialize(
        ASSETS,
        selection=dg.AssetSelection.assets(raw_mediqa_qa, dataset),
        resources={"settings": settings},
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    events = [e.event_type_value for e in result.all_events]
    assert events.count("STEP_UP_FOR_RETRY") == 0  # nothing to wait for: retries are for transient failures
    error = str(next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE").step_failure_data.error)
    assert "nowhere/mediqa2019_qa" in error and "MEDIMIND_RAW_DIR" in error and "cannot be reached" in error
    assert materializations(result, "dataset") == []  # never built from a source that could not be observed


def test_a_raw_file_edited_during_the_build_publishes_nothing(raw_copy, tmp_path, instance, monkeypatch):
    """The sources were hashed before the build read them: a file edited meanwhile gave a dataset holding the new
    text under the old raw version."""
    from medimind_assets.assets import dataset as dataset_module

    out = tmp_path / "out"
    assert run(raw_copy, out, instance).success
    before = sha256_file(out / "dataset.jsonl")
    build = dataset_module.build_dataset
    edited = next((raw_copy / "medquad" / "9_CDC_QA").glob("*.xml"))

    def edited_meanwhile(*args, **kwargs):
        rows = build(*args, **kwargs)
        edited.write_text(edited.read_text(encoding="utf-8").replace("</Answer>", " Edited.</Answer>", 1))
        return rows

    monkeypatch.setattr(dataset_module, "build_dataset", edited_meanwhile)
    result = run(raw_copy, out, instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "changed while the dataset was built" in str(failure.step_failure_data.error)
    assert sha256_file(out / "dataset.jsonl") == before
