"""`<models_dir>/base_model.json`: the manifest of the base model the pipeline currently uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medimind_assets.models.errors import BaseModelError, BaseModelNotResolvedError
from medimind_assets.models.manifest import MANIFEST_KEYS
from medimind_assets.store import BASE_MODEL, PointerError, read_pointer, write_pointer


def write_current_base_model(models_dir: Path, manifest: dict[str, Any]) -> Path:
    """Atomically record `manifest` as the current base model; returns the file written."""
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        raise BaseModelError(f"Not a base-model manifest (missing {', '.join(missing)}): {manifest!r:.200}")
    path = Path(models_dir) / BASE_MODEL
    write_pointer(path, manifest)  # `path` relative to the data folder when the model lives in it
    return path


def read_current_base_model(models_dir: Path) -> dict[str, Any]:
    """The current base model's manifest; clear errors if never resolved, unreadable, or moved away."""
    path = Path(models_dir) / BASE_MODEL
    if not path.is_file():
        raise BaseModelNotResolvedError(
            f"No current base model: {path} does not exist. Materialize the `base_model` asset first "
            "(e.g. `medimind launch base_model`)."
        )
    try:
        manifest = read_pointer(path, "the `base_model` asset", required=())
    except PointerError as error:
        raise BaseModelError(str(error)) from None
    missing = [key for key in MANIFEST_KEYS if key not in manifest] if isinstance(manifest, dict) else MANIFEST_KEYS
    if missing:
        raise BaseModelError(f"{path} is not a base-model manifest (missing {', '.join(missing)})")
    if not Path(manifest["path"]).is_dir():
        raise BaseModelError(
            f"{path} points at {manifest['path']}, which no longer exists; re-materialize the `base_model` asset"
        )
    return manifest
