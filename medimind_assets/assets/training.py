"""The LoRA adapter, trained in a separate process through Dagster Pipes (`training/train_lora.py`).

The asset is thin: it reads the current base model's manifest, hashes the dataset, fingerprints the run and
hands the script to the `launcher` resource (local processes or a Kubernetes pod, by configuration); the
script streams progress and reports the one materialization. torch is never imported here.
"""

from pathlib import Path

import dagster as dg
from pydantic import Field

from medimind_assets.assets.common import OWNERS
from medimind_assets.models import read_current_base_model
from medimind_assets.resources import Launcher, MediMindSettings, PythonJob
from medimind_assets.training.hyperparameters import DEFAULT_TEMPLATE, TrainingHyperparameters
from medimind_assets.training.request import TrainingRequest

TRAINING_MODULE = "medimind_assets.training.train_lora"
# Config fields that steer the run but are not hyperparameters (not in TrainingHyperparameters).
RUN_CONTROL_FIELDS = ("force", "num_processes")


class LoraTrainingConfig(dg.Config):
    """The seed script's hyperparameters (same names and defaults), plus run control."""

    num_epochs: float = Field(3, description="Passes over the train split.")
    batch_size: int = Field(4, description="Examples per device per step.")
    gradient_accumulation_steps: int = Field(4, description="Steps per optimizer update.")
    learning_rate: float = Field(2e-4)
    max_length: int = Field(512, description="Tokens per example; longer responses are cut (and get no EOS).")
    save_steps: int = Field(100, description="Optimizer steps between resumable checkpoints.")
    eval_steps: int = Field(50, description="Optimizer steps between validation losses.")
    logging_steps: int = Field(10, description="Optimizer steps between progress lines.")
    lora_r: int = Field(8)
    lora_alpha: int = Field(16)
    lora_dropout: float = Field(0.1)
    target_modules: list[str] | None = Field(
        None, description="LoRA targets; None = the base model manifest's (by architecture)."
    )
    quantization: str = Field(
        "auto", description="auto | 4bit | 8bit | none. auto: 4-bit only on a GPU too small for bf16 weights."
    )
    no_4bit: bool = Field(False, description="The seed's flag: True means quantization='none'.")
    warmup_ratio: float = Field(0.03, description="Share of the steps with a rising learning rate.")
    seed: int = Field(42)
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1: off); for smoke runs.")
    max_train_examples: int | None = Field(None, description="Train on a seeded subset of this size.")
    max_eval_examples: int | None = Field(None, description="Validate on a seeded subset of this size.")
    gradient_checkpointing: bool = Field(False, description="Trade ~40% speed for activation memory.")
    prompt_template: str = Field(DEFAULT_TEMPLATE, description="Must hold {instruction} and {response}.")
    loss_on: str = Field("response", description="response: prompt tokens masked out of the loss; all: not.")
    packing: bool = Field(
        False, description="Pack examples into one row (checked exact for the model before training)."
    )
    force: bool = Field(False, description="Retrain even if an adapter with this fingerprint exists.")
    num_processes: int = Field(
        1, description="Training processes, one per GPU (accelerate launch when > 1; GPUs requested in a pod)."
    )

    def hyperparameters(self) -> TrainingHyperparameters:
        values = {k: v for k, v in self.model_dump().items() if k not in RUN_CONTROL_FIELDS}
        return TrainingHyperparameters.from_dict(values)


@dg.asset(
    deps=["base_model", "dataset"],
    group_name="training",
    kinds={"pytorch", "peft"},
    owners=OWNERS,
    code_version="1",
    pool="gpu",
    description="A LoRA adapter for the current base model, trained on the dataset's train split in a separate "
    "process (Dagster Pipes); resumes from checkpoints and reuses a finished adapter with the same inputs.",
)
def lora_adapter(
    context: dg.AssetExecutionContext,
    config: LoraTrainingConfig,
    settings: MediMindSettings,
    launcher: Launcher,
) -> dg.MaterializeResult:
    manifest = read_current_base_model(settings.models_path)
    request = TrainingRequest.create(
        dataset_path=Path(settings.dataset_path),
        base_model=manifest,
        hyperparameters=config.hyperparameters(),
        checkpoints_dir=settings.checkpoints_path,
        adapters_dir=settings.adapters_path,
        force=config.force,
    )
    context.log.info(
        f"training {manifest['name']} + LoRA on {request.row_counts['train']} train rows "
        f"(dataset {request.data_version[:12]}), fingerprint {request.fingerprint[:12]}"
    )
    job = PythonJob(
        TRAINING_MODULE,
        request.to_extras(),
        data_dir=settings.data_path,
        num_processes=config.num_processes,
        inputs={"base model": Path(manifest["path"])},
    )
    # The script must report the materialization: a process that exits without one fails the step.
    result = launcher.run(context, job).get_materialize_result(implicit_materialization=False)
    return dg.MaterializeResult(
        metadata={**(result.metadata or {}), "launcher": launcher.describe(job)},
        data_version=result.data_version,
        check_results=result.check_results,
        tags=result.tags,
    )
