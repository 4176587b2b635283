"""Merging the promoted adapter: saved weights, logits equal to base + adapter, and the asset's check."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
import torch
from transformers import AutoModelForCausalLM

from medimind_assets.assets.merge import EQUIVALENCE_CHECK, merged_model
from medimind_assets.digests import sha256_file
from medimind_assets.llm.loading import attach_adapter, load_for_inference, load_tokenizer
from medimind_assets.merging.merge import MERGE_INFO, compare_logits, merge_adapter, prompt_logits
from medimind_assets.resources import MediMindSettings, SubprocessLauncher
from medimind_assets_tests.model_world import evaluated


def test_merged_model_computes_what_base_plus_adapter_computes(world, tmp_path: Path):
    out = tmp_path / "merged"
    report = merge_adapter(world.base_dir, world.random_adapter, out, device="cpu", info={"adapter_fingerprint": "r"})
    assert report.equivalence.passed and report.equivalence.max_abs_diff < 1e-4
    assert report.dtype == "float32" and report.equivalence.n_positions > 20
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("tokenizer")) == [
        "config.json",
        "generation_config.json",
        MERGE_INFO,
        "model.safetensors",
    ]
    assert report.weight_files == {"model.safetensors": sha256_file(out / "model.safetensors")}
    info = json.loads((out / MERGE_INFO).read_text())
    assert info["adapter_fingerprint"] == "r" and info["equivalence"]["passed"] is True

    # Independently: the saved model is a plain model (no LoRA modules) with base + adapter's logits.
    tokenizer = load_tokenizer(world.base_dir)
    merged = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    assert not any("lora" in name for name, _ in merged.named_parameters())
    prompts = ["Human: What is gout?\nAssistant: Gout is", "Human: hi\nAssistant:"]
    adapted = attach_adapter(load_for_inference(world.base_dir, "cpu"), world.random_adapter)
    expected = prompt_logits(adapted, tokenizer, prompts)
    torch.testing.assert_close(prompt_logits(merged, tokenizer, prompts), expected, atol=1e-4, rtol=1e-4)
    with adapted.disable_adapter():
        base = prompt_logits(adapted, tokenizer, prompts)
    assert (base - expected).abs().max() > 1e-2  # the adapter changes the model: the comparison has teeth


def test_a_different_model_fails_the_equivalence_check():
    reference = torch.zeros(4, 10)
    assert compare_logits(reference, reference + 1e-5, "float32", 1).passed
    off = compare_logits(reference, reference + 0.1, "float32", 1)
    assert not off.passed and off.max_abs_diff == pytest.approx(0.1)
    assert compare_logits(reference, reference + 0.1, "float32", 1, atol=0.2).passed


def materialize(world, data: Path) -> dg.ExecuteInProcessResult:
    settings = MediMindSettings(raw_dir=str(world.raw_dir), data_dir=str(data), base_model="tiny-phi")
    return dg.materialize(
        [merged_model], resources={"settings": settings, "launcher": SubprocessLauncher()}, raise_on_error=False
    )


def test_asset_merges_the_promoted_adapter(world, data_dir: Path):
    current = evaluated(world, world.random_adapter)
    (data_dir / "adapters").mkdir()
    (data_dir / "adapters" / "current.json").write_text(json.dumps(current))
    result = materialize(world, data_dir)
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == EQUIVALENCE_CHECK and check.passed
    meta = {k: v.value for k, v in result.asset_materializations_for_node("merged_model")[0].metadata.items()}
    out = data_dir / "merged" / "random"
    assert meta["path"] == str(out) and meta["adapter/fingerprint"] == "random"
    # Its lineage, as the adapter and the evaluation record theirs: the adapter, its dataset, the base model.
    assert [row["asset"] for row in meta["lineage_full"]][:2] == ["lora_adapter", "dataset"]
    assert meta["identifiers"]["base_model_content_hash"] == world.manifest["content_hash"]
    assert meta["weights_sha256"] and meta["size_bytes"] > (out / "model.safetensors").stat().st_size


def test_only_the_merge_of_the_promoted_files_is_served_and_only_as_written(world, data_dir: Path, capsys):
    """The merge records the promoted adapter's file digests and its own weights' digests: `ask --merged` refuses a
    merge of bytes promoted since (the adapter trained again after damage) and merged weights damaged on disk."""
    import shutil

    from medimind_assets.cli import main
    from medimind_assets.digests import file_digests
    from medimind_assets.evaluation.plan import evaluated_adapter_files
    from medimind_assets.promotion import promoted_version_of
    from medimind_assets.status import status_report
    from medimind_assets.store import ArtifactStore

    adapter = data_dir / "adapters" / "random"
    shutil.copytree(world.random_adapter, adapter)
    current = evaluated(world, adapter)
    pointer = data_dir / "adapters" / "current.json"
    pointer.write_text(json.dumps(current))
    assert materialize(world, data_dir).success
    out = data_dir / "merged" / "random"
    info = json.loads((out / MERGE_INFO).read_text())
    assert info["adapter_files"] == current["adapter_files"]
    assert info["weight_files"] == {"model.safetensors": sha256_file(out / "model.safetensors")}

    def ask() -> tuple[int, str]:
        args = ["ask", "hi", "--merged", "--data-dir", str(data_dir), "--max-new-tokens", "2", "--device", "cpu"]
        return main(args), capsys.readouterr().err.strip()

    assert ask()[0] == 0
    store = ArtifactStore.at(data_dir)
    assert status_report(store)[1]
    # Trained again into the same folder with other bytes, and promoted again: another data version to merge, and
    # the old merge refused.
    weights = "adapter_model.safetensors"
    shutil.copyfile(world.trained_adapter / weights, adapter / weights)
    again = {**current, "adapter_files": file_digests(adapter, evaluated_adapter_files(adapter))}
    assert promoted_version_of(again) != promoted_version_of(current)
    pointer.write_text(json.dumps(again))
    code, err = ask()
    assert code == 2 and "merge of other adapter files than the promoted adapter's" in err
    shutil.copyfile(world.random_adapter / weights, adapter / weights)
    pointer.write_text(json.dumps(current))
    weights = out / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    code, err = ask()
    assert code == 2 and f"{weights}: differs from the file merged_model wrote" in err
    lines, healthy = status_report(store)
    assert not healthy and any(line.startswith("  merged") and "is refused" in line for line in lines)
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert ask()[0] == 0
    # A config edited by hand changes every answer without changing one weight byte.
    assert "config.json" in info["config_files"] and "tokenizer.json" in info["config_files"]
    original = (out / "config.json").read_bytes()
    config = json.loads(original)
    (out / "config.json").write_text(json.dumps({**config, "rope_theta": 10.0}))
    code, err = ask()
    assert code == 2 and f"{out / 'config.json'}: differs from the file merged_model wrote" in err
    (out / "config.json").write_bytes(original)
    (out / "chat_template.jinja").write_text("{{ messages }}")  # added since: transformers prefers it
    code, err = ask()
    assert code == 2 and "chat_template.jinja" in err
    (out / MERGE_INFO).unlink()
    code, err = ask()
    assert code == 2 and "merge_info.json: does not exist" in err


def test_asset_without_a_promoted_adapter_fails_clearly(world, data_dir: Path):
    result = materialize(world, data_dir)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "current.json does not exist" in str(failure.event_specific_data.error)
    assert not (data_dir / "merged").exists()


def test_asset_contract():
    spec = next(iter(merged_model.specs))
    assert spec.kinds == {"pytorch", "safetensors"} and spec.group_name == "evaluation"
    assert spec.automation_condition is None
    assert [d.asset_key.to_user_string() for d in spec.deps] == ["evaluation"]
