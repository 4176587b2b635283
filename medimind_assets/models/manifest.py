"""The base-model manifest (`medimind_model.json`) and LoRA target modules per architecture."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medimind_assets.digests import combined_hash
from medimind_assets.models.errors import BaseModelError
from medimind_assets.models.model_dir import (
    config_digest,
    model_dir_problems,
    read_config,
    readme_license,
    safetensors_num_parameters,
    tokenizer_digest,
    weight_digests,
    weight_files,
    weights_problems,
)

MANIFEST_FILENAME = "medimind_model.json"
HASH_CACHE_FILENAME = ".medimind_weight_hashes.json"
MANIFEST_KEYS = (
    "name",
    "path",
    "source",
    "revision",
    "content_hash",
    "architecture",
    "model_type",
    "num_parameters",
    "license",
    "target_modules",
)

# Attention projections by transformers model_type. Phi names its output projection `dense`.
_ATTENTION_TARGETS = {
    "phi": ("q_proj", "k_proj", "v_proj", "dense"),
    **dict.fromkeys(("llama", "mistral", "qwen2", "qwen3"), ("q_proj", "k_proj", "v_proj", "o_proj")),
}


def target_modules_for(model_type: str) -> list[str]:
    """LoRA target modules (attention projections) for a transformers `model_type`."""
    try:
        return list(_ATTENTION_TARGETS[model_type])
    except KeyError:
        raise BaseModelError(
            f"No default LoRA target modules for model_type {model_type!r} (known: "
            f"{', '.join(sorted(_ATTENTION_TARGETS))}); pass the target modules explicitly "
            "(the names of its attention projection nn.Linear layers)."
        ) from None


def describe_model(
    model_dir: Path,
    *,
    name: str,
    source: str,
    manifest_dir: Path,
    revision: str | None = None,
    license_id: str | None = None,
    target_modules: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Build the manifest of a complete model directory (raises BaseModelError naming what is wrong). `source`:
    hub, local, built or gguf."""
    problems = model_dir_problems(model_dir) or weights_problems(model_dir)
    if problems:
        raise BaseModelError(f"Base model {name!r} at {model_dir} is not usable: " + "; ".join(problems))
    config = read_config(model_dir)
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise BaseModelError(f"{model_dir / 'config.json'} has no model_type")
    if model_type not in _ATTENTION_TARGETS:
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

        if model_type not in CONFIG_MAPPING_NAMES:  # only loadable with trust_remote_code
            raise BaseModelError(
                f"{model_dir}: model_type {model_type!r} is not built into transformers and would need "
                "trust_remote_code, which MediMind never enables."
            )
    architectures = config.get("architectures") or []
    hashes = weight_digests(model_dir, manifest_dir / HASH_CACHE_FILENAME)
    return {
        "name": name,
        "path": str(model_dir),
        "source": source,
        "revision": revision,
        "content_hash": combined_hash(hashes),
        "tokenizer_hash": tokenizer_digest(model_dir),
        "config_hash": config_digest(model_dir),
        "architecture": architectures[0] if architectures else None,
        "model_type": model_type,
        "num_parameters": sum(safetensors_num_parameters(p) for p in weight_files(model_dir)),
        "license": license_id or readme_license(model_dir),
        "target_modules": list(target_modules) if target_modules else target_modules_for(model_type),
        "weight_files": hashes,
    }
