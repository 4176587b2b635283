"""The Hugging Face Trainer as MediMind configures it: no padding to max_length, resumable checkpoints."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from medimind_assets.llm.encoding import EncodedExample
from medimind_assets.training.batching import PaddingCollator, packing_collator
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


class _PackedTokenCountFilter(logging.Filter):
    """Packed batches have no padding, so counting every token is exact; drop the Trainer's per-step warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Could not determine method to count non-padding tokens" not in record.getMessage()


def training_arguments(hyperparameters: TrainingHyperparameters, plan: RuntimePlan, output_dir: Path, has_eval: bool):
    from transformers import TrainingArguments

    hp = hyperparameters
    on_cuda = plan.device == "cuda"
    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=hp.num_epochs,
        max_steps=hp.max_steps,
        per_device_train_batch_size=hp.batch_size,
        per_device_eval_batch_size=hp.batch_size,
        gradient_accumulation_steps=hp.gradient_accumulation_steps,
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
        activation_checkpointing=hp.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False},
        train_sampling_strategy="random" if hp.packing else "group_by_length",
        include_num_input_tokens_seen="non_padding",
        optim="adamw_torch_fused" if on_cuda else "adamw_torch",
        dataloader_pin_memory=on_cuda,
        ddp_find_unused_parameters=False,
        remove_unused_columns=False,
        prediction_loss_only=True,
        label_names=["labels"],
        report_to="none",
        disable_tqdm=True,
    )


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
):
    """A Trainer over length-grouped, dynamically padded batches (or packed ones with `packing`)."""
    from transformers import PrinterCallback, Trainer

    from medimind_assets.training.checkpoints import CheckpointCompleteCallback

    if hyperparameters.packing:
        collator = packing_collator()
        logging.getLogger("transformers.trainer").addFilter(_PackedTokenCountFilter())
    else:
        collator = PaddingCollator(pad_token_id, pad_to_multiple_of=8 if plan.device == "cuda" else None)
    # Evaluation reads in order: sorted by length, its batches need little padding too.
    eval_sorted = sorted(eval_examples, key=len)
    trainer = Trainer(
        model=model,
        args=training_arguments(hyperparameters, plan, output_dir, has_eval=bool(eval_sorted)),
        train_dataset=ExampleDataset(train_examples),
        eval_dataset=ExampleDataset(eval_sorted) if eval_sorted else None,
        data_collator=collator,
        callbacks=[CheckpointCompleteCallback(), make_progress_callback(reporter), *extra_callbacks],
    )
    trainer.remove_callback(PrinterCallback)
    return trainer
