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
from medimind_assets.run_health import dead_runs_sensor

# Each asset declares its automation condition beside it (conditions: medimind_assets/automation.py).
ASSETS = [raw_mediqa_qa, raw_medquad, dataset, base_model, lora_adapter, evaluation, merged_model]

# The main job: observe the raw sources (downloading any that are missing), then everything but the optional
# assets (the merged model). `AssetSelection.all()` leaves observable sources out, so they are named.
medimind_pipeline = dg.define_asset_job(
    "medimind_pipeline",
    selection=(dg.AssetSelection.all() | dg.AssetSelection.assets(raw_mediqa_qa, raw_medquad))
    - dg.AssetSelection.tag("medimind/optional", "true"),
    description="Observe the raw sources, then build the dataset, base model, LoRA adapter and its evaluation.",
)

SETTINGS = MediMindSettings.from_env()

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=[dataset_checks],
    jobs=[medimind_pipeline],
    sensors=[
        automation.raw_sources_sensor,
        automation.automation_sensor,
        automation.log_failed_runs,
        dead_runs_sensor,
    ],
    resources={
        "settings": SETTINGS,
        # Training, evaluation and merging run where MEDIMIND_LAUNCHER says: local processes or a GPU pod.
        "launcher": launcher_from_env(SETTINGS.data_path),
    },
)
