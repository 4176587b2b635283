"""The LoRA adapter, trained in a separate process through Dagster Pipes (`training/train_lora.py`).

The asset is thin: it reads the current base model's manifest, hashes the dataset, fingerprints the run and
hands the script to the `launcher` resource (local processes or a Kubernetes pod, by configuration); the
script streams progress and reports the one materialization. torch is never imported here.
"""

from pathlib import Path

import dagster as dg
from pydantic import Field

from medimind_assets import conditions
from medimind_assets.assets.common import config_from, medimind_asset, metadata_table
from medimind_assets.data import mediqa
from medimind_assets.data.rows import DatasetError, read_dataset
from medimind_assets.data.sources import MEDIQA
from medimind_assets.data.validation import refuse_if_invalid
from medimind_assets.digests import sha256_file
from medimind_assets.lineage import LINEAGE_TABLE_COLUMNS, lineage_rows
from medimind_assets.models import BaseModelError, read_current_base_model
from medimind_assets.models.model_dir import linear_module_names
from medimind_assets.pipes_scripts import TRAINING
from medimind_assets.promotion import base_weights_changed
from medimind_assets.resources import Launcher, MediMindSettings, PythonJob
from medimind_assets.training.hyperparameters import TrainingHyperparameters
from medimind_assets.training.lora import TargetModuleError, missing_target_message
from medimind_assets.training.request import TrainingRequest

# Config fields that steer the run but are not hyperparameters (not in TrainingHyperparameters).
RUN_CONTROL_FIELDS = ("force", "num_processes")


class LoraTrainingConfig(config_from(TrainingHyperparameters, "LoraHyperparameters")):
    """TrainingHyperparameters (declared once, in the training library), plus run control."""

    force: bool = Field(False, description="Retrain even if an adapter with this fingerprint exists.")
    num_processes: int = Field(
        1, description="Training processes, one per GPU (accelerate launch when > 1; GPUs requested in a pod)."
    )

    def hyperparameters(self) -> TrainingHyperparameters:
        return TrainingHyperparameters.from_dict(self.model_dump(exclude=set(RUN_CONTROL_FIELDS)))


@medimind_asset(
    "adapter not trained",
    deps=["base_model", "dataset"],
    group_name="training",
    automation_condition=conditions.adapter_condition(),
    kinds={"pytorch", "peft"},
    pool="gpu",
    description="A LoRA adapter for the current base model, trained on the dataset's train split in a separate "
    "process (Dagster Pipes); resumes from checkpoints and reuses a finished adapter with the same inputs.",
)
def lora_adapter(
    context: dg.AssetExecutionContext, config: LoraTrainingConfig, settings: MediMindSettings, launcher: Launcher
) -> dg.MaterializeResult:
    store = settings.store
    manifest = read_current_base_model(store)
    # The fingerprint names the manifest's hash: weights changed in place would be trained on (or an adapter of the
    # old ones reused) under a name that is not theirs.
    if changed := base_weights_changed(store, manifest):
        raise BaseModelError(changed)
    # A target the weights do not have fails here, not minutes later in the launched process (which checks again,
    # on the loaded model's linear layers).
    targets = config.hyperparameters().target_modules or manifest["target_modules"]
    if missing := [t for t in targets if t not in (modules := linear_module_names(Path(manifest["path"])))]:
        raise TargetModuleError(missing_target_message(missing, modules, manifest["name"]))
    if not store.dataset.is_file():
        raise DatasetError(f"dataset not found: {store.dataset} (materialize dataset first)")
    # Train on the content-addressed copy: the version the adapter names stays on disk (lineage, audits,
    # re-evaluation) after the next build replaces dataset.jsonl, and no rebuild can change it mid-run.
    dataset = store.keep_dataset_version(sha256_file(store.dataset))
    # A MEDIQA test question moved into train would be trained on and then scored as held out.
    raw_test_questions = mediqa.test_questions(settings.raw_path / MEDIQA)
    if not raw_test_questions:
        context.log.warning(
            f"no MEDIQA test set under {settings.raw_path / MEDIQA}: train rows are checked only against the "
            "dataset's own test split"
        )
    refuse_if_invalid(dataset, read_dataset(dataset), "train", raw_test_questions)
    request = TrainingRequest.create(
        dataset_path=dataset,
        base_model=manifest,
        hyperparameters=config.hyperparameters(),
        data_root=store.root,
        force=config.force,
        raw_dir=settings.raw_path,
        world_size=config.num_processes,
    )
    sources = request.hyperparameters.sources
    context.log.info(
        f"training {manifest['name']} + LoRA on the train split ({request.row_counts['train']} rows"
        f"{'; only ' + ', '.join(sources) + ' rows' if sources else ''}) of dataset {request.data_version[:12]}, "
        f"fingerprint {request.fingerprint[:12]}"
    )
    if request.preference is not None:
        context.log.info(f"then DPO on {request.preference['counts']['pairs']} preference pairs")
    elif config.preference == "auto":
        context.log.info("SFT alone: no MEDIQA 2019 training question of the train split has a preference pair")
    job = PythonJob(
        TRAINING.module,
        request.to_extras(),
        data_dir=store.root,
        num_processes=config.num_processes,
        inputs={"base model": Path(manifest["path"])},
    )
    # The script must report the materialization: a process that exits without one fails the step.
    result = launcher.run(context, job).get_materialize_result(implicit_materialization=False)
    lineage = lineage_rows(context.instance, request.data_version, manifest)
    reported = dict(result.metadata or {})
    # What a person reads first, first: the loss curve in one line, the lineage; then everything reported.
    first = {key: reported.pop(key) for key in ("loss_curve_summary",) if key in reported}
    return dg.MaterializeResult(
        metadata={
            **first,
            "lineage": metadata_table(lineage, LINEAGE_TABLE_COLUMNS),
            **reported,
            "lineage_full": dg.MetadataValue.json(lineage),
            "launcher": launcher.describe(job),
        },
        data_version=result.data_version,
        check_results=result.check_results,
        tags=result.tags,
    )
