"""Adapter pointers under `<adapters_path>/`.

Their layout and path handling (relative to the data folder) belong to `medimind_assets.store`.

- `latest.json` ({"fingerprint", "path"}): the most recent finished adapter, written by training.
- `current.json`: the promoted adapter, written here only after the gate passed (atomically). It is what a
  serving backend reads as LORA_MODEL_PATH and what `merged_model` and `medimind ask` use. A failing adapter
  stays on disk and this pointer does not move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from medimind_assets.llm.artifacts import ArtifactMissingError, require_adapter_dir, require_model_dir
from medimind_assets.store import CURRENT, LATEST, read_pointer, write_pointer


@dataclass(frozen=True)
class AdapterRef:
    fingerprint: str
    path: Path


def _read(pointer: Path, what: str, missing: str) -> dict:
    payload = read_pointer(pointer, what, required=("fingerprint", "path"))
    if payload is None:
        raise ArtifactMissingError(f"no {missing}: {pointer} does not exist")
    return payload


def read_latest_adapter(adapters_dir: Path) -> AdapterRef:
    """The most recent finished adapter (training's `latest.json`); its folder must hold a verified adapter."""
    payload = _read(Path(adapters_dir) / LATEST, "lora_adapter", "trained adapter (materialize lora_adapter first)")
    return AdapterRef(fingerprint=str(payload["fingerprint"]), path=require_adapter_dir(Path(payload["path"])))


def read_promoted(adapters_dir: Path) -> dict:
    """The `current.json` record, `path` resolved; ArtifactMissingError when nothing is promoted."""
    payload = _read(
        Path(adapters_dir) / CURRENT, "evaluation", "promoted adapter (no adapter has passed evaluation yet)"
    )
    payload["path"] = str(require_adapter_dir(Path(payload["path"])))
    return payload


def promote(adapters_dir: Path, adapter: AdapterRef, record: dict) -> dict:
    """Point `current.json` at `adapter`; `record` adds provenance (data versions, base model, metrics)."""
    payload = {
        **record,
        "fingerprint": adapter.fingerprint,
        "path": str(Path(adapter.path).resolve()),
        "promoted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return write_pointer(Path(adapters_dir) / CURRENT, payload)


def promoted_base_dir(record: dict, models_dir: Path) -> Path:
    """The base model the promoted adapter was evaluated on: the folder recorded at promotion, or else the
    current base model when its content hash is the recorded one."""
    from medimind_assets.models import read_current_base_model
    from medimind_assets.models.errors import BaseModelError

    recorded = record.get("base_model") or {}
    if recorded.get("path") and Path(recorded["path"]).is_dir():
        return require_model_dir(Path(recorded["path"]), f"base model {recorded.get('name')}")
    try:
        manifest = read_current_base_model(Path(models_dir))
    except BaseModelError as exc:
        raise ArtifactMissingError(str(exc)) from None
    if recorded.get("content_hash") not in (None, manifest.get("content_hash")):
        raise ArtifactMissingError(
            f"the promoted adapter's base model {recorded.get('name')} ({recorded.get('path')}) is gone "
            "and the "
            f"current base model {manifest.get('name')} has other weights"
        )
    return require_model_dir(Path(manifest["path"]), f"base model {manifest.get('name')}")
