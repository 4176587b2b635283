"""Base-model registry: resolve a spec (hub id, local directory, tiny-phi, smollm2-135m) to a local model."""

from medimind_assets.models.current import read_current_base_model, write_current_base_model
from medimind_assets.models.errors import BaseModelError, BaseModelNotResolvedError
from medimind_assets.models.manifest import MANIFEST_FILENAME, target_modules_for
from medimind_assets.models.registry import KNOWN_MODELS, resolve_base_model

__all__ = [
    "KNOWN_MODELS",
    "MANIFEST_FILENAME",
    "BaseModelError",
    "BaseModelNotResolvedError",
    "read_current_base_model",
    "resolve_base_model",
    "target_modules_for",
    "write_current_base_model",
]
