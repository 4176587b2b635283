"""Kill the training process of `lora_adapter` mid-run: the run fails, the next one resumes."""

import signal
import threading
import time
from pathlib import Path

import dagster as dg
import psutil

from medimind_assets.training.checkpoints import COMPLETE_MARKER

from .conftest import materialize_lora, run_messages


def _kill_training_after_first_checkpoint(checkpoints: Path, killed: list[int], stop: threading.Event) -> None:
    while not stop.is_set():
        if any(checkpoints.glob(f"*/checkpoint-*/{COMPLETE_MARKER}")):
            for child in psutil.Process().children(recursive=True):
                try:
                    if "medimind_assets.training.train_lora" in " ".join(child.cmdline()):
                        child.send_signal(signal.SIGKILL)
                        killed.append(child.pid)
                except psutil.NoSuchProcess:
                    pass
            return
        time.sleep(0.01)


def test_killed_training_fails_the_run_and_the_next_run_resumes(settings, tiny_phi):
    instance = dg.DagsterInstance.ephemeral()
    config = {"max_steps": 20, "save_steps": 4, "logging_steps": 4, "eval_steps": 10}
    killed: list[int] = []
    stop = threading.Event()
    watcher = threading.Thread(
        target=_kill_training_after_first_checkpoint, args=(settings.store.checkpoints, killed, stop)
    )
    watcher.start()
    try:
        failed = materialize_lora(settings, instance, **config)
    finally:
        stop.set()
        watcher.join()
    assert killed, "the training process was killed"
    assert not failed.success
    assert not failed.asset_materializations_for_node("lora_adapter")
    assert not (settings.store.adapters / "latest.json").exists()

    resumed = materialize_lora(settings, instance, **config)
    assert resumed.success
    [materialization] = resumed.asset_materializations_for_node("lora_adapter")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    resumed_from = metadata["resumed_from_step"]
    assert resumed_from is not None and resumed_from % 4 == 0 and 4 <= resumed_from < 20
    assert metadata["global_step"] == 20
    assert any(f"resuming from checkpoint-{resumed_from}" in m for m in run_messages(instance, resumed))
    # The curve covers the steps before the kill too (restored from the checkpoint's trainer state).
    steps = [record.data["step"] for record in materialization.metadata["loss_curve"].value.records]
    assert steps[0] == 4 and steps[-1] == 20
    assert materialization.tags["dagster/data_version"] == metadata["identifiers"]["fingerprint"]
    assert metadata["reused"] is False
    assert metadata["loss_plot"].startswith("![loss curve](data:image/png;base64,")
    for key in ("hyperparameters", "device", "dtype", "quantization", "quantization_reason", "dataset_version",
                "dataset_row_counts", "base_model", "identifiers", "final_train_loss",
                "final_validation_loss", "tokens_trained", "tokens_per_second", "train_runtime_s",
                "peak_memory_bytes", "trainable_parameters"):  # fmt: skip
        assert key in metadata, key
    for key in ("fingerprint", "adapter_path", "dataset_version", "base_model_revision", "base_model_content_hash"):
        assert metadata["identifiers"][key], key
    assert metadata["dataset_row_counts"] == {"train": 30, "validation": 8, "test": 4}
    latest = settings.store.read_latest()
    assert latest["path"] == metadata["identifiers"]["adapter_path"]

    reused = materialize_lora(settings, instance, **config)
    [again] = reused.asset_materializations_for_node("lora_adapter")
    assert again.metadata["reused"].value is True
    assert again.tags["dagster/data_version"] == metadata["identifiers"]["fingerprint"]
