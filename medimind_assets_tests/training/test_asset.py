"""The `lora_adapter` asset through dg.materialize and Pipes: failures, config errors, the contract."""

import logging
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from medimind_assets.assets.training import lora_adapter
from medimind_assets.resources import Launcher, MediMindSettings, PythonJob, SubprocessLauncher

from .conftest import materialize_lora, run_messages

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_a_max_length_past_the_context_fails_before_launching(settings, tiny_phi):
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_lora(settings, instance, max_length=2048)
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    description = failure.event_specific_data.user_failure_data.description
    assert "max_length=2048 exceeds the context of base model 'tiny-phi' (1024 tokens)" in description
    assert not any("[pipes]" in m for m in run_messages(instance, result))  # no process was launched


def test_an_error_in_the_training_process_fails_the_run_with_its_message(settings, tiny_phi, monkeypatch):
    instance = dg.DagsterInstance.ephemeral()
    # With a context the Dagster side cannot read, the check falls to where the model loads: the training
    # process, which says so.
    monkeypatch.setattr("medimind_assets.training.request.model_context", lambda model_dir: None)
    result = materialize_lora(settings, instance, max_length=2048)
    assert not result.success
    messages = run_messages(instance, result)
    says = "max_length=2048 exceeds the context of base model 'tiny-phi'"
    assert any(says in m for m in messages) and any("[pipes]" in m for m in messages)
    # The step's failure itself says it (what `log_failed_runs` and the UI's run page show), not only the logs.
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    description = failure.event_specific_data.user_failure_data.description
    assert description.startswith("train_lora failed: ") and says in description


def test_a_target_module_the_weights_lack_fails_before_launching(settings, tiny_phi):
    """Read from the weight files' headers: no process starts, no model is loaded."""
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_lora(settings, instance, target_modules=["q_proj", "o_proj", "embed_tokens"])
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    description = failure.event_specific_data.user_failure_data.description
    assert "no linear module named 'o_proj', 'embed_tokens'; its linear modules are: dense, " in description
    assert "train_lora failed" not in description
    head = materialize_lora(settings, instance, target_modules=["lm_head"])
    [failure] = [e for e in head.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "the output head stays frozen" in failure.event_specific_data.user_failure_data.description
    assert not any("[pipes]" in m for m in run_messages(instance, result))  # no process was launched


def test_a_process_that_exits_without_reporting_fails_the_run(tmp_path):
    @dg.asset
    def silent(context: dg.AssetExecutionContext, launcher: Launcher):
        # A module that imports cleanly and exits 0 without opening Pipes.
        job = PythonJob("medimind_assets.training.request", {}, data_dir=tmp_path)
        return launcher.run(context, job).get_materialize_result(implicit_materialization=False)

    result = dg.materialize([silent], resources={"launcher": SubprocessLauncher()}, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "No materialization results received" in str(failure.event_specific_data.error)


def test_missing_base_model_manifest_is_a_clear_error(settings):
    (settings.store.models / "base_model.json").unlink()
    with pytest.raises(Exception, match="Materialize the `base_model` asset first"):
        materialize_lora(settings, dg.DagsterInstance.ephemeral(), raise_on_error=True)


def test_base_weights_changed_in_place_fail_before_launching(settings, tiny_phi, tmp_path):
    """Weights edited after `base_model` hashed them: training them (or reusing an adapter of the old ones) would
    record a hash that is not theirs."""
    import shutil

    from medimind_assets.models import write_current_base_model

    copy = Path(shutil.copytree(tiny_phi["path"], tmp_path / "tiny-phi-copy"))
    write_current_base_model(settings.store, {**tiny_phi, "path": str(copy)})
    [weights] = copy.glob("*.safetensors")
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one byte of the last tensor: same size, other weights
    weights.write_bytes(bytes(data))
    with pytest.raises(Exception, match="has weights .*, not the .* recorded when it was resolved"):
        materialize_lora(settings, dg.DagsterInstance.ephemeral(), raise_on_error=True)


def test_bad_config_fails_before_launching_the_process(settings):
    with pytest.raises(Exception, match="prompt_template"):
        materialize_lora(settings, dg.DagsterInstance.ephemeral(), raise_on_error=True, prompt_template="{instruction}")


def test_the_asset_contract():
    spec = next(iter(lora_adapter.specs))
    assert spec.key == dg.AssetKey("lora_adapter")
    assert {dep.asset_key for dep in spec.deps} == {dg.AssetKey("base_model"), dg.AssetKey("dataset")}
    assert spec.group_name == "training" and spec.owners == ["team:medimind"]
    assert set(spec.kinds) == {"pytorch", "peft"} and spec.code_version == "1"
    assert lora_adapter.op.pool == "gpu"
    assert lora_adapter.required_resource_keys >= {"settings", "launcher"}


def test_dagster_yaml_limits_the_gpu_pool_to_one(tmp_path):
    config_dir = str(PROJECT_ROOT / "deploy" / "local")
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path), config_dir=config_dir)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


def test_the_script_outside_dagster_says_how_to_run_it():
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "medimind_assets.training.train_lora"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "materialize" in done.stderr and "lora_adapter" in done.stderr


def test_a_mediqa_test_question_moved_into_train_is_refused_before_launching(settings, tiny_phi, shared_data):
    from medimind_assets.data import mediqa
    from medimind_assets.data.sources import MEDIQA

    from .conftest import make_rows, write_dataset

    moved = make_rows()
    moved[0]["instruction"] = mediqa.test_questions(shared_data / MEDIQA)[0]  # moved: the file's test split lacks it
    write_dataset(settings.store.dataset, moved)
    raw = MediMindSettings(raw_dir=str(shared_data), data_dir=settings.data_dir)
    with pytest.raises(Exception, match="refusing to train.*test_isolation"):
        materialize_lora(raw, dg.DagsterInstance.ephemeral(), raise_on_error=True)
    assert not raw.store.adapters.exists()


def test_training_reads_the_kept_version_of_the_dataset(settings, tiny_phi):
    from medimind_assets.digests import sha256_file

    version = sha256_file(settings.store.dataset)
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_lora(settings, instance, max_steps=2)
    assert result.success
    # This raw folder has no MEDIQA test set: the weaker isolation check is said, not silent.
    warnings = [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]
    assert any("no MEDIQA test set under" in message for message in warnings), warnings
    kept = settings.store.dataset_version(version)
    summary = settings.store.read_latest()
    assert summary["dataset_version"] == version and kept.is_file()
    trained_on = (Path(summary["path"]) / "training_summary.json").read_text()
    assert f'"path": "{kept}"' in trained_on  # the copy no rebuild can replace, not dataset.jsonl
