from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from medimind_assets.models import (
    BaseModelError,
    BaseModelNotResolvedError,
    read_current_base_model,
    write_current_base_model,
)
from medimind_assets.store import ArtifactStore


def test_reading_before_the_asset_ran_explains_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(BaseModelNotResolvedError, match="base_model") as error:
        read_current_base_model(ArtifactStore(tmp_path))
    assert isinstance(error.value, FileNotFoundError)
    assert str(tmp_path / "models" / "base_model.json") in str(error.value)


def test_round_trip(tiny_phi: dict[str, Any], tmp_path: Path) -> None:
    path = write_current_base_model(ArtifactStore(tmp_path), tiny_phi)
    assert path == tmp_path / "models" / "base_model.json"
    assert read_current_base_model(ArtifactStore(tmp_path)) == tiny_phi
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["base_model.json"]


def test_incomplete_manifest_is_refused(tiny_phi: dict[str, Any], tmp_path: Path) -> None:
    partial = {k: v for k, v in tiny_phi.items() if k != "content_hash"}
    with pytest.raises(BaseModelError, match="content_hash"):
        write_current_base_model(ArtifactStore(tmp_path), partial)
    assert not (tmp_path / "models" / "base_model.json").exists()
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "models" / "base_model.json").write_text(json.dumps(partial))
    with pytest.raises(BaseModelError, match="missing content_hash"):
        read_current_base_model(ArtifactStore(tmp_path))


def test_corrupt_or_dangling_current_model(tiny_phi: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "base_model.json").write_text("{not json")
    with pytest.raises(BaseModelError, match="not valid JSON"):
        read_current_base_model(ArtifactStore(tmp_path))
    moved = tmp_path / "moved"
    shutil.copytree(tiny_phi["path"], moved)
    write_current_base_model(ArtifactStore(tmp_path), {**tiny_phi, "path": str(moved)})
    shutil.rmtree(moved)
    with pytest.raises(BaseModelError, match="no longer exists"):
        read_current_base_model(ArtifactStore(tmp_path))
