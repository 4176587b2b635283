from __future__ import annotations

import fnmatch
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from medimind_assets.models import BaseModelError, resolve_base_model
from medimind_assets.models.hub import ALLOW_PATTERNS, PHI2_REVISION, HubSpec, parse_hub_spec

OTHER_REVISION = "0" * 40


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache, offline: nothing here may ever reach the network."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def _cache_snapshot(cache: Path, repo_id: str, revision: str, source: Path, files: list[str]) -> Path:
    snapshot = cache / f"models--{repo_id.replace('/', '--')}" / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for name in files:
        shutil.copy2(source / name, snapshot / name)
    return snapshot


def test_spec_parsing_pins_phi2() -> None:
    assert parse_hub_spec("microsoft/phi-2") == HubSpec("microsoft/phi-2", PHI2_REVISION)
    assert parse_hub_spec("microsoft/phi-2@abc123") == HubSpec("microsoft/phi-2", "abc123")
    assert parse_hub_spec("HuggingFaceTB/SmolLM2-135M") == HubSpec("HuggingFaceTB/SmolLM2-135M", "main")
    assert parse_hub_spec("gpt2") is None
    assert parse_hub_spec("org/name@") is None
    assert len(PHI2_REVISION) == 40


def test_downloads_never_include_pickles_or_code() -> None:
    for name in ("pytorch_model.bin", "pytorch_model-00001-of-00002.bin", "modeling_phi.py", "model.pt"):
        assert not any(fnmatch.fnmatch(name, pattern) for pattern in ALLOW_PATTERNS), name
    for name in ("config.json", "model-00001-of-00002.safetensors", "tokenizer.json", "merges.txt"):
        assert any(fnmatch.fnmatch(name, pattern) for pattern in ALLOW_PATTERNS), name


def test_offline_phi2_not_cached_fails_fast_and_explains(offline_cache: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(BaseModelError) as error:
        resolve_base_model("microsoft/phi-2", tmp_path / "models")
    assert time.monotonic() - started < 5
    message = str(error.value)
    for expected in (
        "'microsoft/phi-2'",
        PHI2_REVISION,
        "HF_HUB_OFFLINE",
        f"huggingface-cli download microsoft/phi-2 --revision {PHI2_REVISION}",
        "MEDIMIND_BASE_MODEL=DIR",
        "tiny-phi",
        "smollm2-135m",
        str(offline_cache),
    ):
        assert expected in message, expected
    assert not (tmp_path / "models" / "microsoft--phi-2" / "medimind_model.json").exists()


def test_unreachable_hub_fails_fast_without_offline_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
                "http_proxy", "ALL_PROXY", "all_proxy"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused at once
    started = time.monotonic()
    with pytest.raises(BaseModelError, match=r"(?s)unreachable.*huggingface-cli download org/model"):
        resolve_base_model("org/model", tmp_path / "models")
    assert time.monotonic() - started < 10


def test_cached_phi2_resolves_offline(offline_cache: Path, tiny_phi: dict[str, Any], tmp_path: Path) -> None:
    files = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
    snapshot = _cache_snapshot(offline_cache, "microsoft/phi-2", PHI2_REVISION, Path(tiny_phi["path"]), files)
    manifest = resolve_base_model("microsoft/phi-2", tmp_path / "models")
    assert manifest["name"] == "microsoft/phi-2"
    assert manifest["source"] == "hub"
    assert manifest["revision"] == PHI2_REVISION
    assert manifest["license"] == "MIT"
    assert Path(manifest["path"]) == snapshot
    assert manifest["content_hash"] == tiny_phi["content_hash"]
    assert (tmp_path / "models" / "microsoft--phi-2" / "medimind_model.json").is_file()

    with pytest.raises(BaseModelError, match=f"revision {OTHER_REVISION}"):
        resolve_base_model(f"microsoft/phi-2@{OTHER_REVISION}", tmp_path / "models")


def test_incomplete_cached_snapshot_is_reported(offline_cache: Path, tiny_phi: dict[str, Any], tmp_path: Path) -> None:
    _cache_snapshot(offline_cache, "org/model", OTHER_REVISION, Path(tiny_phi["path"]), ["config.json"])
    with pytest.raises(BaseModelError, match=r"incomplete \(no \*\.safetensors weights"):
        resolve_base_model(f"org/model@{OTHER_REVISION}", tmp_path / "models")
