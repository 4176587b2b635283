"""The artefact store: one layout, and pointers that follow their data folder when it moves."""

import json
import shutil
from pathlib import Path

import pytest

from medimind_assets.digests import sha256_file
from medimind_assets.models import read_current_base_model, write_current_base_model
from medimind_assets.models.manifest import MANIFEST_KEYS
from medimind_assets.promotion import AdapterRef, promote, read_latest_adapter, read_promoted
from medimind_assets.resources import MediMindSettings
from medimind_assets.store import ArtifactStore, DatasetVersionError, PointerError
from medimind_assets.training.runner import write_latest
from medimind_assets_tests.test_integrity import _adapter


def test_the_settings_resource_and_the_store_agree_on_the_layout(tmp_path):
    settings = MediMindSettings(raw_dir=str(tmp_path / "raw"), data_dir=str(tmp_path / "data"))
    store = ArtifactStore.at(tmp_path / "data")
    assert settings.store == store
    assert (settings.store.dataset, settings.store.adapters, settings.store.models) == (
        store.dataset,
        store.adapters,
        store.models,
    )
    assert store.current_pointer == tmp_path / "data" / "adapters" / "current.json"


def test_pointers_store_relative_paths_and_follow_a_moved_data_folder(tmp_path):
    old = ArtifactStore.at(tmp_path / "old")
    adapter = _adapter(old.adapters / "fp1")
    summary = {"fingerprint": "fp1", "dataset": {"data_version": "d"}, "created_at": "now"}
    summary["base_model"] = {"name": "tiny", "revision": "r", "content_hash": "h"}
    write_latest(old, adapter, summary)
    promote(old, AdapterRef("fp1", adapter), {"gate": {"passed": True}})
    model_dir = old.models / "tiny"
    model_dir.mkdir(parents=True)
    write_current_base_model(old, {**{key: "x" for key in MANIFEST_KEYS}, "path": str(model_dir)})
    for pointer in (old.latest_pointer, old.current_pointer, old.base_model_pointer):
        assert not json.loads(pointer.read_text())["path"].startswith("/"), pointer

    shutil.move(old.root, tmp_path / "new")  # a serving host mounts the folder elsewhere; the old path is gone
    new = ArtifactStore.at(tmp_path / "new")
    assert read_latest_adapter(new).path == new.adapters / "fp1"
    assert read_promoted(new)["path"] == str(new.adapters / "fp1")
    assert read_current_base_model(new)["path"] == str(new.models / "tiny")


def test_a_model_outside_the_data_folder_keeps_its_absolute_path(tmp_path):
    store = ArtifactStore.at(tmp_path / "data")
    outside = tmp_path / "hf-cache" / "phi-2"
    store.write_base_model({"name": "phi-2", "path": str(outside)})
    assert json.loads(store.base_model_pointer.read_text())["path"] == str(outside)


@pytest.mark.parametrize(
    "content",
    ["not json", "[]", '{"fingerprint": "x"}', '{"fingerprint": "x", "path": 5}', '{"fingerprint": 7, "path": "a"}'],
)
def test_a_broken_pointer_is_named(tmp_path, content):
    pointer = tmp_path / "adapters" / "current.json"
    pointer.parent.mkdir()
    pointer.write_text(content)
    store = ArtifactStore.at(tmp_path)
    with pytest.raises(PointerError, match="current.json"):
        store.read_promoted()
    assert store.read_latest() is None


def test_a_store_made_from_a_relative_root_still_writes_relative_pointers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = ArtifactStore(Path("data"))
    store.write_base_model({"name": "tiny", "path": str(tmp_path / "data" / "models" / "tiny")})
    assert json.loads(store.base_model_pointer.read_text())["path"] == "models/tiny"


# Any damage to a kept copy: torn to nothing, cut mid-row, one byte changed, a row added.
DAMAGES = {
    "empty": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "one byte changed": lambda data: data[:5] + bytes([data[5] ^ 1]) + data[6:],
    "row appended": lambda data: data + b'{"row": 99}\n',
}


@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_a_damaged_kept_dataset_version_is_made_again_or_refused(tmp_path, damage):
    store = ArtifactStore.at(tmp_path / "data")
    store.root.mkdir()
    store.dataset.write_text('{"row": 1}\n{"row": 2}\n')
    version = sha256_file(store.dataset)
    kept = store.keep_dataset_version(version)
    assert sha256_file(kept) == version

    kept.write_bytes(damage(kept.read_bytes()))  # the name's hash no longer holds
    assert sha256_file(store.keep_dataset_version(version)) == version  # made again from dataset.jsonl

    kept.write_bytes(damage(kept.read_bytes()))
    store.dataset.write_text('{"row": 2}\n')  # the next build replaced dataset.jsonl
    with pytest.raises(DatasetVersionError, match=f"{kept}.*damaged.*no longer dataset version {version[:12]}"):
        store.keep_dataset_version(version)
    assert not [p for p in store.datasets.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("key", ["fingerprint", "path"])
@pytest.mark.parametrize("value", [5, 2.5, None, True, [], ["x"], {}, {"path": "x"}, "", "   "])
def test_any_required_field_that_is_not_text_is_named(tmp_path, key, value):
    """Every pointer, every required field, every kind of JSON value that is not non-empty text: PointerError."""
    store = ArtifactStore.at(tmp_path)
    good = {"fingerprint": "fp", "path": "adapters/fp", "name": "tiny"}
    for pointer, read, required in (
        (store.latest_pointer, store.read_latest, ("fingerprint", "path")),
        (store.current_pointer, store.read_promoted, ("fingerprint", "path")),
        (store.base_model_pointer, store.read_base_model, ("name", "path")),
    ):
        pointer.parent.mkdir(parents=True, exist_ok=True)
        field = key if key in required else "name"
        pointer.write_text(json.dumps({**good, field: value}))
        with pytest.raises(PointerError, match=f"{pointer.name}: expected a JSON object with '{field}' as text"):
            read()
