"""Adapter pointers under `<adapters_path>/`.

- `latest.json` ({"fingerprint", "path"}): the most recent finished adapter, written by training.
- `current.json`: the promoted adapter, written here only after the gate passed (atomically). It is what a
  serving backend reads as LORA_MODEL_PATH and what `merged_model` and `medimind ask` use. A failing adapter
  stays on disk and this pointer does not move.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from medimind_assets.atomic import atomic_write_json
from medimind_assets.llm.artifacts import ArtifactMissingError, require_adapter_dir, require_model_dir

LATEST = "latest.json"
CURRENT = "current.json"


@dataclass(frozen=True)
class AdapterRef:
    fingerprint: str
    path: Path


def _read_pointer(pointer: Path, what: str) -> dict:
    if not pointer.is_file():
        raise ArtifactMissingError(f"no {what}: {pointer} does not exist")
    try:
        payload = json.loads(pointer.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{pointer}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(payload, dict) or not payload.get("fingerprint") or not payload.get("path"):
        raise ValueError(f"{pointer}: expected a JSON object with 'fingerprint' and 'path'")
    return payload


def _resolve(adapters_dir: Path, raw: str) -> Path:
    path = Path(raw)
    return path if path.is_absolute() else adapters_dir / path


def read_latest_adapter(adapters_dir: Path) -> AdapterRef:
    """The most recent finished adapter (training's `latest.json`); its folder must hold a PEFT adapter."""
    adapters_dir = Path(adapters_dir)
    payload = _read_pointer(adapters_dir / LATEST, "trained adapter (materialize lora_adapter first)")
    path = require_adapter_dir(_resolve(adapters_dir, payload["path"]))
    return AdapterRef(fingerprint=str(payload["fingerprint"]), path=path)


def read_promoted(adapters_dir: Path) -> dict:
    """The `current.json` record, `path` resolved; ArtifactMissingError when nothing is promoted."""
    adapters_dir = Path(adapters_dir)
    payload = _read_pointer(adapters_dir / CURRENT, "promoted adapter (no adapter has passed evaluation yet)")
    payload["path"] = str(require_adapter_dir(_resolve(adapters_dir, payload["path"])))
    return payload


def promote(adapters_dir: Path, adapter: AdapterRef, record: dict) -> dict:
    """Point `current.json` at `adapter`; `record` adds provenance (data versions, base model, metrics)."""
    payload = {
        **record,
        "fingerprint": adapter.fingerprint,
        "path": str(Path(adapter.path).resolve()),
        "promoted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_json(Path(adapters_dir) / CURRENT, payload)
    return payload


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
