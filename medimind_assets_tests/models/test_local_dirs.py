from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medimind_assets.models import MANIFEST_FILENAME, BaseModelError, resolve_base_model


def test_local_directory_is_accepted_in_place(copy_of_tiny_phi: Path, tiny_phi: dict[str, Any], tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    (copy_of_tiny_phi / "README.md").write_text("---\nlicense: mit\ntags: [medical]\n---\n# My model\n")
    manifest = resolve_base_model(str(copy_of_tiny_phi), models_dir)
    assert manifest["source"] == "local"
    assert manifest["path"] == str(copy_of_tiny_phi.resolve())
    assert manifest["revision"] is None
    assert manifest["license"] == "mit"
    assert manifest["content_hash"] == tiny_phi["content_hash"]
    assert manifest["num_parameters"] == tiny_phi["num_parameters"]
    assert manifest["target_modules"] == ["q_proj", "k_proj", "v_proj", "dense"]
    (written,) = models_dir.glob(f"local--my-model--*/{MANIFEST_FILENAME}")
    assert json.loads(written.read_text()) == manifest


def test_changed_weights_change_the_content_hash(copy_of_tiny_phi: Path, tmp_path: Path) -> None:
    before = resolve_base_model(str(copy_of_tiny_phi), tmp_path)["content_hash"]
    weights = copy_of_tiny_phi / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert resolve_base_model(str(copy_of_tiny_phi), tmp_path)["content_hash"] != before


def test_missing_config_is_rejected(copy_of_tiny_phi: Path, tmp_path: Path) -> None:
    (copy_of_tiny_phi / "config.json").unlink()
    with pytest.raises(BaseModelError, match="no config.json") as error:
        resolve_base_model(str(copy_of_tiny_phi), tmp_path)
    assert str(copy_of_tiny_phi) in str(error.value)


def test_pickle_only_weights_are_rejected(copy_of_tiny_phi: Path, tmp_path: Path) -> None:
    (copy_of_tiny_phi / "model.safetensors").rename(copy_of_tiny_phi / "pytorch_model.bin")
    with pytest.raises(BaseModelError, match=r"pytorch_model\.bin.*safetensors only") as error:
        resolve_base_model(str(copy_of_tiny_phi), tmp_path)
    assert str(copy_of_tiny_phi) in str(error.value)


def test_missing_shard_is_rejected(copy_of_tiny_phi: Path, tmp_path: Path) -> None:
    index = {
        "metadata": {},
        "weight_map": {"a": "model.safetensors", "b": "model-00002-of-00002.safetensors"},
    }
    (copy_of_tiny_phi / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(BaseModelError, match="model-00002-of-00002.safetensors"):
        resolve_base_model(str(copy_of_tiny_phi), tmp_path)


def test_missing_tokenizer_is_rejected(copy_of_tiny_phi: Path, tmp_path: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (copy_of_tiny_phi / name).unlink()
    with pytest.raises(BaseModelError, match="no tokenizer"):
        resolve_base_model(str(copy_of_tiny_phi), tmp_path)


def test_nonexistent_or_file_paths_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(BaseModelError, match="does not exist"):
        resolve_base_model(str(tmp_path / "nowhere"), tmp_path)
    a_file = tmp_path / "weights.safetensors"
    a_file.write_bytes(b"")
    with pytest.raises(BaseModelError, match="is not a directory"):
        resolve_base_model(str(a_file), tmp_path)


def _set_model_type(model_dir: Path, model_type: str) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    config["model_type"] = model_type
    (model_dir / "config.json").write_text(json.dumps(config))


def test_remote_code_architectures_are_refused(copy_of_tiny_phi: Path, tmp_path: Path) -> None:
    _set_model_type(copy_of_tiny_phi, "phi-msft")
    with pytest.raises(BaseModelError, match="trust_remote_code"):
        resolve_base_model(str(copy_of_tiny_phi), tmp_path)


def test_unknown_architecture_needs_explicit_target_modules(copy_of_tiny_phi: Path, tmp_path: Path) -> None:
    _set_model_type(copy_of_tiny_phi, "gpt2")
    with pytest.raises(BaseModelError, match="explicitly"):
        resolve_base_model(str(copy_of_tiny_phi), tmp_path)
    manifest = resolve_base_model(str(copy_of_tiny_phi), tmp_path, target_modules=["c_attn"])
    assert manifest["model_type"] == "gpt2"
    assert manifest["target_modules"] == ["c_attn"]


def test_unknown_spec_lists_the_known_models(tmp_path: Path) -> None:
    with pytest.raises(BaseModelError, match="tiny-phi.*hub id"):
        resolve_base_model("gpt2", tmp_path)
    with pytest.raises(BaseModelError, match="Empty"):
        resolve_base_model("  ", tmp_path)
