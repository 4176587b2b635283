"""The MediMind code location. Nothing heavy happens at import (torch and transformers load inside runs), and
nothing reads the environment then either: `defs` is a lazy entry point that Dagster calls when it loads the code
location, and only then are the deployment settings read (`config.Deployment.from_env`)."""

import dagster as dg

from medimind_assets import conditions, sensors
from medimind_assets.assets.dataset import dataset
from medimind_assets.assets.evaluation import evaluation
from medimind_assets.assets.merge import merged_model
from medimind_assets.assets.models import base_model
from medimind_assets.assets.sources import raw_mediqa_qa, raw_medquad
from medimind_assets.assets.training import lora_adapter
from medimind_assets.checks import dataset_checks
from medimind_assets.config import Deployment
from medimind_assets.resources import MediMindSettings, launcher_for

# Each asset declares its automation condition beside it (conditions.py); the deployment's training window and
# automatic merging are applied when the definitions are built.
ASSETS = [raw_mediqa_qa, raw_medquad, dataset, base_model, lora_adapter, evaluation, merged_model]

# The main job: observe the raw sources (downloading any that are missing), then everything but the optional
# assets (the merged model). `AssetSelection.all()` leaves observable sources out, so they are named.
medimind_pipeline = dg.define_asset_job(
    "medimind_pipeline",
    selection=(dg.AssetSelection.all() | dg.AssetSelection.assets(raw_mediqa_qa, raw_medquad))
    - dg.AssetSelection.tag("medimind/optional", "true"),
    description="Observe the raw sources, then build the dataset, base model, LoRA adapter and its evaluation.",
)


def _with_condition(assets_def: dg.AssetsDefinition, condition: dg.AutomationCondition | None):
    return assets_def.map_asset_specs(lambda spec: spec.replace_attributes(automation_condition=condition))


def build_definitions(deployment: Deployment) -> dg.Definitions:
    settings = MediMindSettings.from_deployment(deployment)
    assets = [
        *[a for a in ASSETS if a not in (lora_adapter, evaluation, merged_model)],
        _with_condition(lora_adapter, conditions.adapter_condition(deployment.training_cron)),
        _with_condition(evaluation, conditions.evaluation_condition(deployment.training_cron)),
        _with_condition(merged_model, conditions.merge_condition(deployment.auto_merge)),
    ]
    return dg.Definitions(
        assets=assets,
        asset_checks=[dataset_checks],
        jobs=[medimind_pipeline],
        sensors=[
            sensors.raw_sources_sensor_every(deployment.source_check_seconds),
            sensors.automation_sensor,
            sensors.log_failed_runs,
            sensors.dead_runs_sensor,
        ],
        resources={
            "settings": settings,
            # Training, evaluation and merging run where the launcher setting says: local processes or a GPU pod.
            "launcher": launcher_for(deployment, settings.store.root),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Deployment.from_env())
