"""`<models_dir>/base_model.json`: the manifest of the base model the pipeline currently uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medimind_assets.atomic import atomic_write_json
from medimind_assets.models.errors import BaseModelError, BaseModelNotResolvedError
from medimind_assets.models.manifest import MANIFEST_KEYS

CURRENT_FILENAME = "base_model.json"


def write_current_base_model(models_dir: Path, manifest: dict[str, Any]) -> Path:
    """Atomically record `manifest` as the current base model; returns the file written."""
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        raise BaseModelError(f"Not a base-model manifest (missing {', '.join(missing)}): {manifest!r:.200}")
    path = Path(models_dir) / CURRENT_FILENAME
    atomic_write_json(path, manifest)
    return path


def read_current_base_model(models_dir: Path) -> dict[str, Any]:
    """The current base model's manifest; clear errors if never resolved, unreadable, or moved away."""
    path = Path(models_dir) / CURRENT_FILENAME
    if not path.is_file():
        raise BaseModelNotResolvedError(
            f"No current base model: {path} does not exist. Materialize the `base_model` asset first "
            "(e.g. `dagster asset materialize -m medimind_assets.definitions --select base_model`)."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise BaseModelError(f"{path} is not valid JSON ({error}); re-materialize the `base_model` asset") from error
    missing = [key for key in MANIFEST_KEYS if key not in manifest] if isinstance(manifest, dict) else MANIFEST_KEYS
    if missing:
        raise BaseModelError(f"{path} is not a base-model manifest (missing {', '.join(missing)})")
    if not Path(manifest["path"]).is_dir():
        raise BaseModelError(
            f"{path} points at {manifest['path']}, which no longer exists; re-materialize the `base_model` asset"
        )
    return manifest
