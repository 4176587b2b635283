"""trl's `SFTTrainer` as MediMind configures it: `SFTConfig` from the run's hyperparameters and device plan (each
setting and why: docs/training.md), on pre-tokenised data, with our labelled-position loss (`training.loss`).

No step waits for the GPU to check the loss for NaN (`logging_nan_inf_filter=False`): a non-finite loss is logged
as it is and refused before publishing (`runner.check_finite`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

from medimind_assets.quiet import TRL_CHECKPOINTING_ALIAS, ignoring_warning
from medimind_assets.training.hyperparameters import TrainingHyperparameters
from medimind_assets.training.reporting import Reporter, make_progress_callback
from medimind_assets.training.runtime import RuntimePlan


def common_arguments(hp: TrainingHyperparameters, plan: RuntimePlan, output_dir: Path, has_eval: bool) -> dict:
    """TrainingArguments shared by the SFT and preference stages."""
    on_cuda = plan.device == "cuda"
    return {
        "output_dir": str(output_dir),
        "per_device_train_batch_size": hp.batch_size,
        "per_device_eval_batch_size": hp.batch_size,
        "gradient_accumulation_steps": hp.gradient_accumulation_steps,
        "lr_scheduler_type": "linear",
        "warmup_steps": hp.warmup_ratio,  # a float below 1 is a share of the total steps
        "logging_steps": hp.logging_steps,
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": hp.eval_steps,
        "save_strategy": "steps",
        "save_steps": hp.save_steps,
        "save_total_limit": 2,  # the last two checkpoints of a run
        "seed": hp.seed,
        "data_seed": hp.seed,
        "bf16": plan.dtype == "bfloat16",  # trl's default is bf16 everywhere; never fp16 (phi-2 overflows)
        "use_cpu": not on_cuda,
        "gradient_checkpointing": hp.gradient_checkpointing,  # trl's default is on
        "gradient_checkpointing_kwargs": {"use_reentrant": False},
        "include_num_input_tokens_seen": "non_padding",
        "logging_nan_inf_filter": False,
        "optim": "adamw_torch_fused" if on_cuda else "adamw_torch",
        "dataloader_pin_memory": on_cuda,
        "ddp_find_unused_parameters": False,
        "report_to": "none",
        "disable_tqdm": True,
    }


def trl_config(config_class, **arguments):
    """`config_class` (SFTConfig, DPOConfig) without trl's warning about its checkpointing arguments."""
    with ignoring_warning(TRL_CHECKPOINTING_ALIAS, FutureWarning):
        return config_class(**arguments)


def make_trainer(trainer_class, reporter: Reporter, extra_callbacks: Sequence = (), **arguments):
    """A trl trainer whose checkpoints are marked complete and whose progress goes to `reporter` (not printed)."""
    from medimind_assets.quiet import before_peft, peft_wrapping

    before_peft()
    from transformers import PrinterCallback

    from medimind_assets.training.checkpoints import CheckpointCompleteCallback

    callbacks = [CheckpointCompleteCallback(), make_progress_callback(reporter), *extra_callbacks]
    with peft_wrapping():
        trainer = trainer_class(callbacks=callbacks, **arguments)
    trainer.remove_callback(PrinterCallback)
    return trainer


def train_or_reuse(trainer, resume: Path | None, max_steps: int, reporter: Reporter) -> tuple[float, dict]:
    """Train, from `resume` when given; return the mean training loss and the trainer state of the checkpoint resumed
    from ({} when none). A resumed run that already finished its `max_steps` is loaded as it is (the Trainer would
    train one step past `max_steps` and write it among the run's checkpoints)."""
    from medimind_assets.quiet import peft_wrapping

    # Read before training: the Trainer rotates old checkpoints.
    resumed = json.loads((resume / "trainer_state.json").read_text()) if resume else {}
    if resume and 0 < max_steps <= resumed.get("global_step", 0):
        from transformers import TrainerState

        trainer._load_from_checkpoint(str(resume))
        trainer.state = TrainerState.load_from_json(str(resume / "trainer_state.json"))
        trainer.callback_handler.on_train_begin(trainer.args, trainer.state, trainer.control)  # as train() would
        reporter.info(f"{resume.name} finished its {max_steps} steps: the adapter is used as it is")
        losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
        return (sum(losses) / len(losses) if losses else float("nan")), resumed
    with peft_wrapping():  # peft asks transformers' deprecated checkpointing names during training
        return trainer.train(resume_from_checkpoint=str(resume) if resume else None).training_loss, resumed


def describe_batching(hp: TrainingHyperparameters) -> str:
    if hp.packing:
        layout = f"packed into rows of {hp.max_length} tokens"
    elif hp.padding_free:
        layout = "padding-free (each pass's examples in one row)"
    else:
        layout = "length-grouped, padded to the longest of each pass"
    return (
        f"{hp.batch_size * hp.gradient_accumulation_steps} examples per optimizer step and process, in "
        f"{hp.gradient_accumulation_steps} forward pass(es) of {hp.batch_size}, {layout}"
    )


@functools.cache
def sft_trainer_class():
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler
    from trl import SFTTrainer

    from medimind_assets.training.loss import labelled_loss_sum, with_loss_positions

    class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
        """Each epoch's length-grouped order drawn from (seed, epoch), not from the global RNG: the Trainer restores
        a checkpoint's RNG state only after the resumed epoch's order is drawn, so a run resumed in a later epoch
        would otherwise train that epoch in another order than the run it resumes."""

        def __init__(self, batch_size: int, lengths: list[int], seed: int) -> None:
            super().__init__(batch_size, lengths=lengths)
            self.seed, self.epoch = seed, 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch

        def __iter__(self):
            self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
            return super().__iter__()

    class MediMindSFTTrainer(SFTTrainer):
        """trl's SFTTrainer, with the loss on labelled positions computed by `training.loss` (`labelled_loss`), a
        length-grouped order that resumes exactly, and validation passes that leave the training's RNG alone."""

        labelled_loss = True

        def _get_train_sampler(self, train_dataset=None):
            sampler = super()._get_train_sampler(train_dataset)
            if type(sampler) is LengthGroupedSampler:
                seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
                return EpochSeededLengthGroupedSampler(sampler.batch_size, sampler.lengths, seed)
            return sampler

        def evaluate(self, *args, **kwargs):
            # A pass's data loader draws its seed from the global RNG: without the fork, how often the validation
            # loss is computed (eval_steps) would change the dropout masks of the steps after it, and the weights.
            devices = range(torch.cuda.device_count()) if torch.cuda.is_available() else []
            with torch.random.fork_rng(devices=devices):
                return super().evaluate(*args, **kwargs)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if return_outputs or not self.labelled_loss:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            batch = with_loss_positions(inputs)
            items = len(batch["loss_targets"]) if num_items_in_batch is None else num_items_in_batch
            loss = labelled_loss_sum(model, batch) / items
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes  # DDP averages gradients over processes
            return loss

    return MediMindSFTTrainer


def build_trainer(
    model,
    hp: TrainingHyperparameters,
    plan: RuntimePlan,
    train_dataset,
    eval_dataset,
    tokenizer,
    output_dir: Path,
    reporter: Reporter,
    peft_config=None,
    extra_callbacks: Sequence = (),
    labelled_loss: bool = True,
):
    """An SFTTrainer over the tokenised splits."""
    from trl import SFTConfig

    has_eval = eval_dataset is not None and len(eval_dataset) > 0
    args = trl_config(
        SFTConfig,
        **common_arguments(hp, plan, output_dir, has_eval),
        num_train_epochs=hp.num_epochs,
        max_steps=hp.max_steps,
        learning_rate=hp.learning_rate,
        max_length=hp.max_length if hp.packing else None,  # rows are cut by llm.encoding; packing fills max_length
        packing=hp.packing,
        padding_free=hp.padding_free and not hp.packing,
        train_sampling_strategy="random" if hp.padding_free or hp.packing else "group_by_length",
        length_column_name="length",
        completion_only_loss=None,  # the labels already mask the prompt (or not, loss_on="all")
        torch_compile=hp.torch_compile,
    )
    trainer = make_trainer(
        sft_trainer_class(),
        reporter,
        extra_callbacks,
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset if has_eval else None,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    trainer.labelled_loss = labelled_loss
    return trainer
