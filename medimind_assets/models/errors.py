"""Errors raised while resolving a base model: one type, with messages that name the model and the fix."""

from __future__ import annotations

from medimind_assets.errors import MediMindError


class BaseModelError(MediMindError, RuntimeError):
    """A base model could not be located, built, converted or described."""


class BaseModelNotResolvedError(BaseModelError, FileNotFoundError):
    """`base_model.json` is missing: the `base_model` asset was never materialized."""
