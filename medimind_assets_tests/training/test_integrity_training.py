"""Training never publishes a wrong artefact: it re-validates its dataset, verifies what it reuses and resumes
from, and refuses non-finite weights (each case was a failure an operator met)."""

import json
import os
from pathlib import Path

import pytest
import torch

from medimind_assets.data.rows import DatasetError
from medimind_assets.integrity import IntegrityError, verify_adapter
from medimind_assets.training.checkpoints import COMPLETE_MARKER, manifest, problem, resume_point
from medimind_assets.training.runner import TrainingError, check_finite, run_training, write_failure_message
from medimind_assets_tests.training.conftest import ListReporter, make_request, make_rows, write_dataset


def test_a_dataset_edited_after_its_checks_is_refused(settings, tiny_phi):
    rows = make_rows()
    leaked = [{**r, "split": "train", "id": r["id"] + ":copy"} for r in rows if r["split"] == "test"]
    write_dataset(settings.store.dataset, rows + leaked)
    with pytest.raises(DatasetError) as caught:
        run_training(make_request(settings, tiny_phi), ListReporter())
    message = str(caught.value)
    assert str(settings.store.dataset) in message and "test_isolation" in message and "split_by_question" in message
    assert not settings.store.adapters.exists()


def test_rows_without_a_safety_level_are_refused(settings, tiny_phi):
    rows = [{k: v for k, v in r.items() if k != "safety_level"} for r in make_rows()]
    write_dataset(settings.store.dataset, rows)
    with pytest.raises(DatasetError, match="schema: .* field 'safety_level' missing"):
        run_training(make_request(settings, tiny_phi), ListReporter())


def _checkpoint(run_dir: Path, step: int, with_marker: bool = True) -> Path:
    folder = run_dir / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    for name in ("trainer_state.json", "optimizer.pt", "scheduler.pt", "adapter_model.safetensors"):
        (folder / name).write_bytes(f"{name} at {step}".encode())
    if with_marker:
        (folder / COMPLETE_MARKER).write_text(json.dumps({"global_step": step, "files": manifest(folder)}))
    return folder


def test_a_checkpoint_missing_its_optimizer_is_skipped_for_the_previous_complete_one(tmp_path):
    older, newer = _checkpoint(tmp_path, 20), _checkpoint(tmp_path, 40)
    (newer / "optimizer.pt").unlink()
    assert problem(newer) == "optimizer.pt is missing"
    lines: list[str] = []
    assert resume_point(tmp_path, force=False, is_main=True, info=lines.append) == older
    assert lines == [
        "skipped and removed checkpoint checkpoint-40: optimizer.pt is missing",
        "resuming from checkpoint-20 of " + str(tmp_path),
    ]
    assert older.is_dir() and not newer.exists()


def test_an_edited_or_unmarked_checkpoint_is_not_resumed_from(tmp_path):
    edited, unmarked = _checkpoint(tmp_path, 10), _checkpoint(tmp_path, 30, with_marker=False)
    (edited / "adapter_model.safetensors").write_bytes(b"something else entirely")
    assert problem(edited) == "adapter_model.safetensors differs from what was saved"
    assert "no completion marker" in problem(unmarked)
    assert resume_point(tmp_path, force=False, is_main=False, info=print) is None
    assert edited.is_dir() and unmarked.is_dir()  # only the main process removes anything


def test_weights_or_losses_that_are_not_finite_are_never_published():
    model = torch.nn.Linear(2, 2)
    check_finite(model, [1.0, 0.5], [0.7], 2e-4)
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(TrainingError, match="NaN or infinity .*lower learning_rate \\(now 1e\\+30\\)"):
        check_finite(model, [1.0], [], 1e30)
    with pytest.raises(TrainingError, match="final validation loss is nan"):
        check_finite(torch.nn.Linear(2, 2), [1.0], [float("nan")], 2e-4)


def test_a_full_disk_during_a_checkpoint_save_is_named(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 4096, 4096))
    message = write_failure_message(RuntimeError("[enforce fail] basic_ios::clear: iostream error"), tmp_path)
    assert "most likely no space left on device" in message and str(tmp_path) in message
    assert write_failure_message(OSError(28, "No space left on device"), tmp_path).startswith(
        f"no space left on device while writing {tmp_path}"
    )
    assert write_failure_message(RuntimeError("shape mismatch"), tmp_path) is None
    assert write_failure_message(OSError("disk full"), tmp_path) is None  # no errno: raised as it is


@pytest.mark.slow
def test_a_diverged_run_publishes_nothing(settings, tiny_phi, monkeypatch):
    from medimind_assets.training.hyperparameters import TrainingHyperparameters

    # Validation caps the learning rate at 1, which tiny-phi survives: 1e30 makes it diverge within 5 steps.
    monkeypatch.setattr(TrainingHyperparameters, "validate", lambda self: None)
    with pytest.raises(TrainingError, match="lower learning_rate"):
        run_training(make_request(settings, tiny_phi, learning_rate=1e30, max_steps=5), ListReporter())
    assert not (settings.store.adapters / "latest.json").exists()
    assert not any(p.name.startswith(make_request(settings, tiny_phi).fingerprint) for p in _listing(settings))


def _listing(settings):
    return list(settings.store.adapters.iterdir()) if settings.store.adapters.is_dir() else []


@pytest.mark.slow
def test_a_truncated_adapter_is_trained_again_not_reused(settings, tiny_phi):
    first = run_training(make_request(settings, tiny_phi), ListReporter())
    adapter_dir = Path(first.summary["adapter_path"])
    assert set(first.summary["files"]) == {"adapter_config.json", "adapter_model.safetensors"}
    weights = adapter_dir / "adapter_model.safetensors"
    os.truncate(weights, weights.stat().st_size - 100)
    with pytest.raises(IntegrityError, match="adapter_model.safetensors: truncated"):
        verify_adapter(adapter_dir)
    reporter = ListReporter()
    again = run_training(make_request(settings, tiny_phi), reporter)
    assert not again.reused
    assert any("failed verification" in line and "adapter_model.safetensors" in line for line in reporter.lines)
    verify_adapter(adapter_dir)
