"""`models/base_model.json`: the manifest of the base model the pipeline currently uses (kept by `ArtifactStore`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medimind_assets.models.errors import BaseModelError, BaseModelNotResolvedError
from medimind_assets.models.manifest import MANIFEST_KEYS
from medimind_assets.store import ArtifactStore, PointerError


def write_current_base_model(store: ArtifactStore, manifest: dict[str, Any]) -> Path:
    """Atomically record `manifest` as the current base model; returns the file written."""
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        raise BaseModelError(f"Not a base-model manifest (missing {', '.join(missing)}): {manifest!r:.200}")
    store.write_base_model(manifest)  # `path` relative to the data folder when the model lives in it
    return store.base_model_pointer


def read_current_base_model(store: ArtifactStore) -> dict[str, Any]:
    """The current base model's manifest; clear errors if never resolved, unreadable, or moved away."""
    path = store.base_model_pointer
    try:
        manifest = store.read_base_model()
    except PointerError as error:
        raise BaseModelError(str(error)) from None
    if manifest is None:
        raise BaseModelNotResolvedError(
            f"No current base model: {path} does not exist. Materialize the `base_model` asset first "
            "(e.g. `medimind launch base_model`)."
        )
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        raise BaseModelError(f"{path} is not a base-model manifest (missing {', '.join(missing)})")
    if not Path(manifest["path"]).is_dir():
        raise BaseModelError(
            f"{path} points at {manifest['path']}, which no longer exists; re-materialize the `base_model` asset"
        )
    return manifest
