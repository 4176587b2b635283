"""Consumers verify what they consume, and misuse ends in one clear line (artefacts, pointers, options)."""

import json
import os
import time
from pathlib import Path

import pytest
from safetensors.torch import save_file

from medimind_assets import cli
from medimind_assets.atomic import ArtifactWriteError, atomic_write_jsonl
from medimind_assets.data.build import BuildOptions
from medimind_assets.digests import file_digests
from medimind_assets.evaluation.settings import EvaluationSettings
from medimind_assets.integrity import IntegrityError, check_safetensors, verify_adapter
from medimind_assets.lineage import LineageError, promoted_fingerprint
from medimind_assets.llm.artifacts import ArtifactMissingError, require_adapter_dir, require_model_dir
from medimind_assets.store import ArtifactStore


def _adapter(folder: Path) -> Path:
    import torch

    folder.mkdir(parents=True)
    save_file({"lora_A": torch.ones(4, 2), "lora_B": torch.zeros(2, 4)}, str(folder / "adapter_model.safetensors"))
    (folder / "adapter_config.json").write_text(json.dumps({"r": 8, "peft_type": "LORA"}))
    digests = file_digests(folder, ["adapter_config.json", "adapter_model.safetensors"])
    (folder / "training_summary.json").write_text(json.dumps({"fingerprint": "f", "files": digests}))
    return folder


def test_a_truncated_or_edited_adapter_is_refused_naming_the_file(tmp_path):
    adapter = _adapter(tmp_path / "a")
    assert require_adapter_dir(adapter) == adapter
    weights = adapter / "adapter_model.safetensors"
    os.truncate(weights, weights.stat().st_size - 8)
    with pytest.raises(IntegrityError, match=f"{weights}: truncated"):
        require_adapter_dir(adapter)
    other = _adapter(tmp_path / "b")
    config = other / "adapter_config.json"
    config.write_text(json.dumps({"r": 16, "peft_type": "LORA"}))
    with pytest.raises(IntegrityError, match=f"{config}: sha256 .* differs"):
        verify_adapter(other)


@pytest.mark.parametrize(
    "config",
    [
        "{}",
        "[]",
        "null",
        "8",
        '"LORA"',
        '{"peft_type": "NOPE", "r": 8}',
        '{"peft_type": null}',
        '{"peft_type": ["LORA"]}',
    ],
)
def test_an_adapter_config_that_is_no_lora_config_is_refused_naming_the_file(tmp_path, config):
    """An adapter made outside the pipeline (LORA_MODEL_PATH, --adapter) has no digests: its config is checked."""
    adapter = _adapter(tmp_path / "a")
    (adapter / "training_summary.json").unlink()
    (adapter / "adapter_config.json").write_text(config)
    with pytest.raises(IntegrityError, match=f"{adapter / 'adapter_config.json'}: is not a LoRA adapter config"):
        verify_adapter(adapter)


def test_safetensors_structure_is_checked_without_a_digest(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"\x10\x00")
    with pytest.raises(IntegrityError, match="truncated"):
        check_safetensors(path)


def test_pickled_weights_are_refused_with_one_clear_message(tmp_path, capsys):
    merged = tmp_path / "merged"
    merged.mkdir()
    (merged / "config.json").write_text("{}")
    (merged / "pytorch_model.bin").write_bytes(b"\x80\x02pickle")
    with pytest.raises(ArtifactMissingError, match="only pickled weights \\(pytorch_model.bin\\)"):
        require_model_dir(merged, "merged model")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "adapter_model.bin").write_bytes(b"\x80\x02pickle")
    assert cli.main(["ask", "hi", "--adapter", str(adapter), "--data-dir", str(tmp_path)]) == 2
    assert cli.main(["ask", "hi", "--merged", str(merged), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "never read" in err[0] and "pickled weights" in err[1]


def test_an_incomplete_merged_model_is_one_line_naming_what_is_wrong(tmp_path, capsys):
    import torch

    merged = tmp_path / "merged"
    merged.mkdir()
    (merged / "config.json").write_text("{}")
    weights = merged / "model.safetensors"
    save_file({"w": torch.ones(4, 4)}, str(weights))

    def ask() -> str:
        assert cli.main(["ask", "hi", "--merged", str(merged), "--data-dir", str(tmp_path)]) == 2
        return capsys.readouterr().err.strip()

    assert f"merged model in {merged} has no tokenizer" in ask()
    (merged / "tokenizer.json").write_text("{}")
    (merged / "merge_info.json").write_text("{truncated")
    assert ask().endswith(f"{merged / 'merge_info.json'}: is not valid JSON; re-run merged_model")
    os.truncate(weights, weights.stat().st_size - 8)
    assert f"{weights}: truncated" in ask()


@pytest.mark.parametrize("content", ["garbage{", "[1, 2]", "{}", '{"fingerprint": 7}'])
def test_lineage_on_a_broken_pointer_is_one_line_and_exit_2(tmp_path, capsys, content):
    adapters = tmp_path / "adapters"
    adapters.mkdir()
    (adapters / "current.json").write_text(content)
    with pytest.raises(LineageError, match="current.json"):
        promoted_fingerprint(ArtifactStore.at(tmp_path))
    assert cli.main(["lineage", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("medimind lineage: ")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_answer_chars": -1}, "max_answer_chars"),
        ({"min_answer_chars": 0}, "min_answer_chars"),
        ({"max_questions_per_answer": 0}, "max_questions_per_answer"),
        ({"test_similarity_threshold": 1.5}, "test_similarity_threshold"),
    ],
)
def test_absurd_dataset_options_are_refused_before_any_work(options, field):
    with pytest.raises(ValueError, match=f"{field} must be"):
        BuildOptions(**options)


@pytest.mark.parametrize(("options", "field"), [({"margin": -100}, "margin"), ({"positive_fraction": 0}, "positive")])
def test_evaluation_options_are_refused_before_any_model_is_loaded(options, field):
    with pytest.raises(ValueError, match=f"{field}"):
        EvaluationSettings(**options)


@pytest.mark.parametrize("options", [{"atol": -1.0}, {"rtol": float("nan")}, {"device": " "}])
def test_merge_options_are_refused_before_any_model_is_loaded(options):
    from medimind_assets.merging.settings import MergeSettings

    with pytest.raises(ValueError, match="must be"):
        MergeSettings(**options)


def test_a_full_disk_is_named_with_the_path(tmp_path, monkeypatch):
    final = tmp_path / "dataset.jsonl"

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(ArtifactWriteError, match=f"no space left on device while writing {final}"):
        atomic_write_jsonl(final, [{"a": 1}])
    assert list(tmp_path.iterdir()) == []


def test_temporary_files_left_by_a_killed_write_are_removed_on_the_next_write(tmp_path):
    stale = tmp_path / ".dataset.jsonl.abc123.tmp"
    fresh = tmp_path / ".dataset.jsonl.def456.tmp"  # a write that may still be running
    stale.write_text("half")
    fresh.write_text("half")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    atomic_write_jsonl(tmp_path / "dataset.jsonl", [{"a": 1}])
    assert not stale.exists() and fresh.exists()
