"""The LoRA adapter's configuration, on target modules checked to exist first.

The base model itself is loaded by `medimind_assets.llm.loading.load_for_training`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from medimind_assets.errors import MediMindError
from medimind_assets.quiet import peft_wrapping
from medimind_assets.training.hyperparameters import TrainingHyperparameters


class TargetModuleError(MediMindError, ValueError):
    """A LoRA target module the base model does not have."""


def missing_target_message(missing: Sequence[str], available: Iterable[str], model_name: str) -> str:
    head = " (the output head stays frozen: the loss projects through it)" if "lm_head" in missing else ""
    return (
        f"base model {model_name!r} has no linear module named {', '.join(map(repr, missing))}{head}; "
        f"its linear modules are: {', '.join(sorted(available))}"
    )


def check_target_modules(model, targets: Sequence[str], model_name: str) -> None:
    """Every target names a linear layer of the model (bitsandbytes' layers are torch Linear subclasses), lm_head
    excluded."""
    import torch

    available = sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and not name.endswith("lm_head")
        }
    )
    missing = [t for t in targets if t not in available]
    if missing:
        raise TargetModuleError(missing_target_message(missing, available, model_name))


def lora_config(hyperparameters: TrainingHyperparameters, targets: Sequence[str]):
    """The seed's LoRA (r, alpha, dropout from the hyperparameters) on `targets`; the trainer wraps the model."""
    with peft_wrapping():
        from peft import LoraConfig, TaskType

        return LoraConfig(
            r=hyperparameters.lora_r,
            lora_alpha=hyperparameters.lora_alpha,
            lora_dropout=hyperparameters.lora_dropout,
            target_modules=list(targets),
            bias="none",
            task_type=TaskType.CAUSAL_LM,
        )
