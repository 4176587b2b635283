"""The Hugging Face Trainer as MediMind configures it: no padding to max_length, resumable checkpoints.

One Trainer step is one optimizer step: the sampler hands over all its examples (batch_size x
gradient_accumulation_steps, exactly those the seed's accumulated micro-batches would take) and `StepCollator`
splits them into forward passes by a token budget. `training_step` runs them, each loss summed over its scored
tokens and divided by the scored tokens of the whole step (across processes), so the gradient is the seed's
accumulated one; the loss is taken on labelled positions only (`training.loss`) unless the model failed that
check. Real tokens are counted here, from the collator's count, without a device sync.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medimind_assets.llm.encoding import EncodedExample
from medimind_assets.training.batching import MICRO_BATCHES_KEY, PaddingCollator, StepCollator
from medimind_assets.training.hyperparameters import TrainingHyperparameters
from medimind_assets.training.reporting import Reporter, make_progress_callback
from medimind_assets.training.runtime import RuntimePlan

CHECKPOINTS_KEPT = 2


class ExampleDataset:
    """Tokenized examples as the feature dicts the collators take."""

    def __init__(self, examples: Sequence[EncodedExample]) -> None:
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.examples[index].as_features()


@functools.cache
def _training_argument_names() -> frozenset[str]:
    from transformers import TrainingArguments

    return frozenset(field.name for field in dataclasses.fields(TrainingArguments))


def version_dependent_arguments(gradient_checkpointing: bool, packing: bool) -> dict[str, Any]:
    """The TrainingArguments whose names changed within transformers 5: `activation_checkpointing` (5.23; before,
    `gradient_checkpointing`) and `train_sampling_strategy` (5.2; before, `group_by_length`)."""
    names = _training_argument_names()
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    arguments: dict[str, Any] = {
        checkpointing: gradient_checkpointing,
        f"{checkpointing}_kwargs": {"use_reentrant": False},
    }
    if "train_sampling_strategy" in names:
        arguments["train_sampling_strategy"] = "random" if packing else "group_by_length"
    else:
        arguments["group_by_length"] = not packing
    return arguments


def training_arguments(hyperparameters: TrainingHyperparameters, plan: RuntimePlan, output_dir: Path, has_eval: bool):
    from transformers import TrainingArguments

    hp = hyperparameters
    on_cuda = plan.device == "cuda"
    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=hp.num_epochs,
        max_steps=hp.max_steps,
        # One Trainer batch is one optimizer step; StepCollator makes the forward passes.
        per_device_train_batch_size=hp.step_examples,
        gradient_accumulation_steps=1,
        per_device_eval_batch_size=hp.batch_size,
        learning_rate=hp.learning_rate,
        warmup_steps=hp.warmup_ratio,  # a float below 1 is a share of the total steps
        lr_scheduler_type="linear",
        logging_steps=hp.logging_steps,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=hp.eval_steps,
        save_strategy="steps",
        save_steps=hp.save_steps,
        save_total_limit=CHECKPOINTS_KEPT,
        seed=hp.seed,
        data_seed=hp.seed,
        bf16=plan.dtype == "bfloat16",
        use_cpu=not on_cuda,
        include_num_input_tokens_seen="no",  # counted by training_step, from the collator's count
        # Its isnan/isinf test of every step's loss waits for the GPU each step; a non-finite loss is logged as it
        # is instead, and `runner.check_finite` refuses to publish it.
        logging_nan_inf_filter=False,
        optim="adamw_torch_fused" if on_cuda else "adamw_torch",
        dataloader_pin_memory=on_cuda,
        ddp_find_unused_parameters=False,
        remove_unused_columns=False,
        prediction_loss_only=True,
        label_names=["labels"],
        report_to="none",
        disable_tqdm=True,
        **version_dependent_arguments(hp.gradient_checkpointing, hp.packing),
    )


def describe_micro_batches(hyperparameters: TrainingHyperparameters) -> str:
    hp = hyperparameters
    per_pass = f"{hp.token_budget:,} tokens" if hp.token_budget else f"{hp.batch_size} examples"
    return f"{hp.step_examples} examples per optimizer step and process, forward passes of at most {per_pass}"


@functools.cache
def step_trainer_class():
    import torch
    from transformers import Trainer

    from medimind_assets.training.loss import full_loss_sum, labelled_loss_sum

    class StepTrainer(Trainer):
        """A Trainer whose batches are whole optimizer steps (see the module docstring)."""

        def __init__(self, *args, step_collator: StepCollator, labelled_loss: bool, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.step_collator = step_collator
            # DataParallel (several GPUs in one process) replicates the model per call: the decoder hook that the
            # labelled loss needs would see every replica.
            self.labelled_loss = labelled_loss and self.args.n_gpu <= 1
            self._flops_per_token: int | None = None

        def get_train_dataloader(self):
            # The data_collator given to the Trainer serves evaluation; training batches are whole steps.
            eval_collator, self.data_collator = self.data_collator, self.step_collator
            try:
                return super().get_train_dataloader()
            finally:
                self.data_collator = eval_collator

        def _sum_over_processes(self, values: list[int]) -> list:
            if self.accelerator.num_processes == 1:
                return values
            total = self.accelerator.reduce(torch.tensor(values, device=self.args.device), reduction="sum")
            return list(total.unbind())

        def training_step(self, model, inputs: dict[str, Any], num_items_in_batch=None):
            model.train()
            if callable(getattr(self.optimizer, "train", None)):
                self.optimizer.train()
            items, tokens = self._sum_over_processes([inputs["num_items"], inputs["num_tokens"]])
            # DDP averages gradients over processes: a process's share of the step's summed loss is scaled back up.
            scale = self.accelerator.num_processes / items
            loss_sum = labelled_loss_sum if self.labelled_loss else full_loss_sum
            micro_batches = inputs[MICRO_BATCHES_KEY]
            total = None
            for i, batch in enumerate(micro_batches):
                batch = {k: v.to(self.args.device, non_blocking=True) for k, v in batch.items()}
                last = i == len(micro_batches) - 1
                with contextlib.nullcontext() if last else self.accelerator.no_sync(model):
                    # autocast as the model's own forward has it (bf16): the head projection outside it matches.
                    with self.compute_loss_context_manager(), self.accelerator.autocast():
                        loss = loss_sum(model, batch) * scale
                    self.accelerator.backward(loss)
                total = loss.detach() if total is None else total + loss.detach()
            self.state.num_input_tokens_seen += int(tokens)
            return total

        def floating_point_ops(self, inputs: dict[str, Any]) -> int:
            """transformers' estimate (6 x tokens x non-embedding parameters), from the step's token count."""
            if self._flops_per_token is None:
                self._flops_per_token = 6 * self.model.num_parameters(exclude_embeddings=True)
            return self._flops_per_token * int(inputs.get("num_tokens", 0)) if MICRO_BATCHES_KEY in inputs else 0

    return StepTrainer


def build_trainer(
    model,
    hyperparameters: TrainingHyperparameters,
    plan: RuntimePlan,
    train_examples: Sequence[EncodedExample],
    eval_examples: Sequence[EncodedExample],
    pad_token_id: int,
    output_dir: Path,
    reporter: Reporter,
    extra_callbacks: Sequence = (),
    labelled_loss: bool = True,
):
    """A Trainer over whole optimizer steps of length-grouped examples (random ones with `packing`), each split
    into forward passes by the token budget; the loss on labelled positions only when `labelled_loss`."""
    from medimind_assets.quiet import before_peft

    before_peft()
    from transformers import PrinterCallback

    from medimind_assets.training.checkpoints import CheckpointCompleteCallback

    hp = hyperparameters
    pad_multiple = 8 if plan.device == "cuda" else None
    step_collator = StepCollator(pad_token_id, hp.batch_size, hp.token_budget, hp.packing, pad_multiple)
    # Evaluation reads in order: sorted by length, its batches need little padding too.
    eval_sorted = sorted(eval_examples, key=len)
    trainer = step_trainer_class()(
        model=model,
        args=training_arguments(hp, plan, output_dir, has_eval=bool(eval_sorted)),
        train_dataset=ExampleDataset(train_examples),
        eval_dataset=ExampleDataset(eval_sorted) if eval_sorted else None,
        data_collator=PaddingCollator(pad_token_id, pad_to_multiple_of=pad_multiple),
        callbacks=[CheckpointCompleteCallback(), make_progress_callback(reporter), *extra_callbacks],
        step_collator=step_collator,
        labelled_loss=labelled_loss,
    )
    trainer.remove_callback(PrinterCallback)
    return trainer
