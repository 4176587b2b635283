from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from medimind_assets.digests import combined_hash, sha256_file
from medimind_assets.models import BaseModelError, target_modules_for
from medimind_assets.models.model_dir import (
    safetensors_num_parameters,
    weight_digests,
)


def test_target_modules_by_architecture() -> None:
    assert target_modules_for("phi") == ["q_proj", "k_proj", "v_proj", "dense"]
    assert target_modules_for("llama") == ["q_proj", "k_proj", "v_proj", "o_proj"]
    with pytest.raises(BaseModelError, match=r"'bert'.*explicitly"):
        target_modules_for("bert")


def test_parameter_count_from_safetensors_header(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    tensors = {"a": torch.zeros(3, 4), "b": torch.zeros(5), "c": torch.zeros(2, 2, 2, dtype=torch.bfloat16)}
    save_file(tensors, tmp_path / "model.safetensors", metadata={"format": "pt"})
    assert safetensors_num_parameters(tmp_path / "model.safetensors") == 12 + 5 + 8
    (tmp_path / "broken.safetensors").write_bytes(b"\x01")
    with pytest.raises(BaseModelError, match="broken.safetensors"):
        safetensors_num_parameters(tmp_path / "broken.safetensors")


def test_content_hash_covers_names_and_bytes() -> None:
    assert combined_hash({"a.safetensors": "1", "b.safetensors": "2"}) == combined_hash(
        {"b.safetensors": "2", "a.safetensors": "1"}
    )
    assert combined_hash({"a.safetensors": "1"}) != combined_hash({"b.safetensors": "1"})
    assert combined_hash({"a.safetensors": "1"}) != combined_hash({"a.safetensors": "2"})


def test_weight_hashes_are_cached_until_the_file_changes(tmp_path: Path) -> None:
    model_dir, cache = tmp_path / "model", tmp_path / "hashes.json"
    model_dir.mkdir()
    weights = model_dir / "model.safetensors"
    weights.write_bytes(b"weights v1")
    assert weight_digests(model_dir, cache) == {"model.safetensors": sha256_file(weights)}

    entry = json.loads(cache.read_text())["files"]["model.safetensors"]
    cache.write_text(json.dumps({"files": {"model.safetensors": {**entry, "sha256": "from-cache"}}}))
    assert weight_digests(model_dir, cache) == {"model.safetensors": "from-cache"}

    weights.write_bytes(b"weights v2")
    os.utime(weights, ns=(entry["mtime_ns"] + 1, entry["mtime_ns"] + 1))
    assert weight_digests(model_dir, cache) == {"model.safetensors": sha256_file(weights)}


def test_weights_edited_with_their_old_mtime_put_back_are_hashed_again(tmp_path: Path) -> None:
    """Bytes flipped in place, then `os.utime` back to the old time (a restore that keeps timestamps): the size and
    mtime match the cache, the ctime does not."""
    model_dir, cache = tmp_path / "model", tmp_path / "hashes.json"
    model_dir.mkdir()
    weights = model_dir / "model.safetensors"
    weights.write_bytes(b"weights v1")
    before = weight_digests(model_dir, cache)
    stat = weights.stat()
    time.sleep(0.05)  # past the file system's timestamp granularity (a few ms)
    weights.write_bytes(b"weights v2")  # same size
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert weights.stat().st_mtime_ns == stat.st_mtime_ns
    assert weight_digests(model_dir, cache) == {"model.safetensors": sha256_file(weights)} != before
