"""The MediMind code location. Nothing heavy happens at import: torch and transformers load inside runs."""

import dagster as dg

from medimind_assets import automation
from medimind_assets.assets.dataset import dataset
from medimind_assets.assets.evaluation import evaluation
from medimind_assets.assets.merge import merged_model
from medimind_assets.assets.models import base_model
from medimind_assets.assets.sources import raw_mediqa_qa, raw_medquad
from medimind_assets.assets.training import lora_adapter
from medimind_assets.checks import dataset_checks
from medimind_assets.resources import MediMindSettings, launcher_from_env

# Each asset declares its automation condition beside it (conditions: medimind_assets/automation.py).
ASSETS = [raw_mediqa_qa, raw_medquad, dataset, base_model, lora_adapter, evaluation, merged_model]

# The main job: everything but the optional assets (the merged model).
medimind_pipeline = dg.define_asset_job(
    "medimind_pipeline",
    selection=dg.AssetSelection.all() - dg.AssetSelection.tag("medimind/optional", "true"),
    description="Raw sources to dataset, base model, LoRA adapter and its evaluation.",
)

SETTINGS = MediMindSettings.from_env()

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=[dataset_checks],
    jobs=[medimind_pipeline],
    sensors=[automation.automation_sensor, automation.log_failed_runs],
    resources={
        "settings": SETTINGS,
        # Training, evaluation and merging run where MEDIMIND_LAUNCHER says: local processes or a GPU pod.
        "launcher": launcher_from_env(SETTINGS.data_path),
    },
)
