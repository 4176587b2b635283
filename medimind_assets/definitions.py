"""The MediMind code location. Nothing heavy happens at import: torch and transformers load inside runs."""

from __future__ import annotations

import dagster as dg

from medimind_assets.assets.dataset import dataset
from medimind_assets.assets.models import base_model
from medimind_assets.assets.sources import raw_mediqa_qa, raw_medquad
from medimind_assets.checks import dataset_checks
from medimind_assets.resources import MediMindSettings

# The main job: everything but the optional assets (the merged model).
medimind_pipeline = dg.define_asset_job(
    "medimind_pipeline",
    selection=dg.AssetSelection.all() - dg.AssetSelection.tag("medimind/optional", "true"),
    description="Raw sources to dataset, base model, LoRA adapter and its evaluation.",
)

defs = dg.Definitions(
    assets=[raw_mediqa_qa, raw_medquad, dataset, base_model],
    asset_checks=[dataset_checks],
    jobs=[medimind_pipeline],
    resources={"settings": MediMindSettings.from_env()},
)
