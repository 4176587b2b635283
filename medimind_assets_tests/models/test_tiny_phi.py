from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from medimind_assets.digests import sha256_file
from medimind_assets.models import MANIFEST_FILENAME, BaseModelError, resolve_base_model
from medimind_assets.models import tiny_phi as tiny_phi_module
from medimind_assets.models.manifest import MANIFEST_KEYS
from medimind_assets_tests.models.conftest import CHAT_TEXT, TEXTS


def test_manifest_describes_the_built_model(tiny_phi: dict[str, Any]) -> None:
    model_dir = Path(tiny_phi["path"])
    assert set(MANIFEST_KEYS) <= set(tiny_phi)
    assert model_dir.name == "tiny-phi"
    assert tiny_phi["name"] == "tiny-phi"
    assert tiny_phi["source"] == "built"
    assert tiny_phi["architecture"] == "PhiForCausalLM"
    assert tiny_phi["model_type"] == "phi"
    assert tiny_phi["target_modules"] == ["q_proj", "k_proj", "v_proj", "dense"]
    assert tiny_phi["license"] == "Apache-2.0"
    assert tiny_phi["revision"].startswith("seed0-vocab2048-texts")
    assert tiny_phi["weight_files"] == {"model.safetensors": sha256_file(model_dir / "model.safetensors")}
    assert len(tiny_phi["content_hash"]) == 64
    assert json.loads((model_dir / MANIFEST_FILENAME).read_text()) == tiny_phi


def test_built_model_loads_and_tokenizes_the_chat_format(tiny_phi: dict[str, Any]) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_phi["path"])
    model = AutoModelForCausalLM.from_pretrained(tiny_phi["path"])
    assert model.num_parameters() == tiny_phi["num_parameters"]
    assert tokenizer.eos_token == tokenizer.pad_token == "<|endoftext|>"
    assert model.config.eos_token_id == model.config.pad_token_id == tokenizer.eos_token_id
    ids = tokenizer(CHAT_TEXT, return_tensors="pt")["input_ids"]
    assert tokenizer.decode(ids[0]) == CHAT_TEXT
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss
    assert torch.isfinite(loss)
    module_names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    assert set(tiny_phi["target_modules"]) <= module_names


def test_existing_build_is_reused_without_texts(tiny_phi: dict[str, Any]) -> None:
    weights = Path(tiny_phi["path"]) / "model.safetensors"
    mtime = weights.stat().st_mtime_ns
    again = resolve_base_model("tiny-phi", Path(tiny_phi["path"]).parent)
    assert again == tiny_phi
    assert weights.stat().st_mtime_ns == mtime


def test_build_is_deterministic(tiny_phi: dict[str, Any], tmp_path: Path) -> None:
    second = resolve_base_model("tiny-phi", tmp_path, TEXTS)
    assert second["content_hash"] == tiny_phi["content_hash"]
    assert second["revision"] == tiny_phi["revision"]
    assert second["path"] == str(tmp_path / "tiny-phi")


def test_first_build_needs_tokenizer_texts(tmp_path: Path) -> None:
    with pytest.raises(BaseModelError, match="tokenizer_texts"):
        resolve_base_model("tiny-phi", tmp_path)
    assert not (tmp_path / "tiny-phi").exists()


def test_concurrent_resolutions_build_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[Path] = []
    real_build = tiny_phi_module.build_tiny_phi

    def counting_build(out_dir: Path, texts: list[str], **kwargs: Any) -> Path:
        builds.append(Path(out_dir))
        return real_build(out_dir, texts, **kwargs)

    monkeypatch.setattr(tiny_phi_module, "build_tiny_phi", counting_build)
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: results.append(resolve_base_model("tiny-phi", tmp_path, TEXTS)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert len(results) == 2 and results[0] == results[1]


def test_importing_the_registry_does_not_import_ml_libraries() -> None:
    code = (
        "import sys, medimind_assets.models, medimind_assets.models.registry\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'huggingface_hub') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_weights_damaged_in_place_are_built_again_not_adopted(tmp_path: Path) -> None:
    """Re-materializing base_model after damage, as the refusal suggests, recorded the damaged weights' hash as the
    base's and kept them."""
    built = resolve_base_model("tiny-phi", tmp_path, TEXTS)
    weights = Path(built["path"]) / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    again = resolve_base_model("tiny-phi", tmp_path, TEXTS)
    assert again["content_hash"] == built["content_hash"]
    assert weights.read_bytes() != bytes(data)
