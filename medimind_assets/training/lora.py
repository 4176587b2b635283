"""Load the base model for training (quantized or not) and wrap it with a LoRA adapter."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from medimind_assets.training.hyperparameters import TrainingHyperparameters
from medimind_assets.training.runtime import RuntimePlan


class TargetModuleError(ValueError):
    """A LoRA target module the base model does not have."""


def torch_dtype(name: str):
    import torch

    return {"bfloat16": torch.bfloat16, "float32": torch.float32}[name]


def attention_implementation(plan: RuntimePlan, packing: bool) -> str:
    """flash_attention_2 for packing on a bf16 GPU that has the package; sdpa otherwise."""
    if packing and plan.device == "cuda" and plan.dtype == "bfloat16":
        from transformers.utils import is_flash_attn_2_available

        if is_flash_attn_2_available():
            return "flash_attention_2"
    return "sdpa"


def load_base_model(
    path: Path, plan: RuntimePlan, attn_implementation: str, local_rank: int = 0, gradient_checkpointing: bool = False
):
    """The base model in the plan's dtype; 4/8-bit through bitsandbytes, prepared for k-bit training."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    dtype = torch_dtype(plan.dtype)
    kwargs: dict = {"dtype": dtype, "attn_implementation": attn_implementation}
    if plan.quantization != "none":
        if plan.quantization == "4bit":
            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=dtype,
            )
        else:
            kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
        kwargs["device_map"] = {"": local_rank if plan.device == "cuda" else "cpu"}
    model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    # The cache path skips transformers' packed-sequence masking, and training never reuses a cache.
    model.config.use_cache = False
    if plan.quantization != "none":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    return model


def linear_module_names(model) -> list[str]:
    """Leaf names of the model's linear layers (what LoRA can target), lm_head excluded."""
    import torch

    linear_types: list[type] = [torch.nn.Linear]
    try:
        import bitsandbytes as bnb

        linear_types += [bnb.nn.Linear4bit, bnb.nn.Linear8bitLt]
    except ImportError:
        pass
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, tuple(linear_types)) and not name.endswith("lm_head")
    }
    return sorted(names)


def check_target_modules(model, targets: Sequence[str], model_name: str) -> None:
    available = linear_module_names(model)
    missing = [t for t in targets if t not in available]
    if missing:
        raise TargetModuleError(
            f"base model {model_name!r} has no linear module named {', '.join(map(repr, missing))}; "
            f"its linear modules are: {', '.join(available)}"
        )


def apply_lora(model, hyperparameters: TrainingHyperparameters, targets: Sequence[str]):
    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(
        r=hyperparameters.lora_r,
        lora_alpha=hyperparameters.lora_alpha,
        lora_dropout=hyperparameters.lora_dropout,
        target_modules=list(targets),
        bias="none",
        task_type=TaskType.CAUSAL_LM,
    )
    return get_peft_model(model, config)
