"""The base model: resolved through the registry (phi-2 from the hub or cache, a local directory, tiny-phi or
SmolLM2 from its GGUF file) into a local directory with a manifest the training and evaluation steps read."""

from collections.abc import Iterator

import dagster as dg
from pydantic import Field

from medimind_assets import conditions
from medimind_assets.assets.common import medimind_asset
from medimind_assets.data.rows import read_dataset
from medimind_assets.resources import MediMindSettings


class BaseModelConfig(dg.Config):
    model: str | None = Field(
        None,
        description="Overrides MEDIMIND_BASE_MODEL: microsoft/phi-2, a hub id, a local path, tiny-phi, smollm2-135m.",
    )


def _dataset_texts(settings: MediMindSettings) -> Iterator[str]:
    """Train-split texts, for the tokenizer of the locally built tiny-phi."""
    for row in read_dataset(settings.store.dataset):
        if row["split"] == "train":
            yield from (row["instruction"], row["response"])


@medimind_asset(
    "base model not resolved",
    deps=["dataset"],
    group_name="training",
    automation_condition=conditions.base_model_condition(),
    kinds={"huggingface", "safetensors"},
    description="The base causal language model to adapt, resolved to a local directory of safetensors weights.",
)
def base_model(
    context: dg.AssetExecutionContext, config: BaseModelConfig, settings: MediMindSettings
) -> dg.MaterializeResult:
    from medimind_assets.models import resolve_base_model, write_current_base_model

    spec = config.model or settings.base_model
    texts = _dataset_texts(settings) if settings.store.dataset.is_file() else None
    manifest = resolve_base_model(spec, settings.store.models, tokenizer_texts=texts)
    pointer = write_current_base_model(settings.store, manifest)
    context.log.info(f"base model {manifest['name']} at {manifest['path']} ({manifest['num_parameters']:,} parameters)")
    version = manifest.get("revision") or manifest["content_hash"]
    return dg.MaterializeResult(
        data_version=dg.DataVersion(str(version)),
        metadata={
            "model": manifest["name"],
            "path": dg.MetadataValue.path(str(manifest["path"])),
            "source": manifest["source"],
            "revision": str(manifest.get("revision")),
            "content_hash": str(manifest["content_hash"]),
            "architecture": manifest["architecture"],
            "model_type": manifest["model_type"],
            "num_parameters": manifest["num_parameters"],
            "license": str(manifest.get("license")),
            "lora_target_modules": ", ".join(manifest["target_modules"]),
            "manifest": dg.MetadataValue.path(str(pointer)),
        },
    )
