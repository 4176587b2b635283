"""Load the tokenizer, the base model (for inference or for training) and a LoRA adapter on top.

- `load_for_inference`: the base in full precision (fp32 on CPU, bf16 on a GPU that supports it, else fp32),
  in eval mode, for evaluation, merging and `medimind ask`, whatever precision the adapter was trained in: LoRA
  weights apply to the unquantized base, and 4-bit rounding would blur base-vs-adapter differences.
- `load_for_training`: the base as a training run's plan says (dtype, 4/8-bit quantization, attention
  implementation, the process's GPU), with the cache off.

Folders are checked first (`artifacts`): a missing or pickled model, or an adapter whose files differ from what
training recorded, is one clear error before any loader runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from medimind_assets.llm.artifacts import require_adapter_dir, require_model_dir
from medimind_assets.quiet import before_peft, no_progress_bars, peft_wrapping

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def choose_device(device: str = "auto") -> str:
    """`auto` (a GPU when there is one), or the device asked for, checked: ValueError naming the problem for a
    device torch does not know or one this machine or torch build lacks."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            build = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise ValueError(f"device {device!r} asked for, but {build}: use --device cpu or auto")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} asked for, but only {torch.cuda.device_count()} GPU(s) are visible")
    elif parsed.type not in ("cpu", "mps"):
        raise ValueError(f"unsupported device {device!r}: use auto, cpu, cuda or cuda:N")
    return device


def full_precision_dtype(device: str) -> torch.dtype:
    import torch

    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def load_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    """The model folder's tokenizer; it must have EOS (answers end on it), and pads with EOS if it has no pad."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.eos_token_id is None:
        raise ValueError(f"tokenizer in {path} has no EOS token; training and evaluation need one to end answers")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_for_inference(path: Path, device: str = "auto", dtype: torch.dtype | None = None) -> PreTrainedModel:
    """The base model in full precision (or `dtype`) on `device`, in eval mode."""
    from transformers import AutoModelForCausalLM

    path = require_model_dir(Path(path), "base model")
    device = choose_device(device)
    with no_progress_bars():
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype or full_precision_dtype(device))
    return model.to(device).eval()


def load_for_training(
    path: Path, plan, attn_implementation: str, local_rank: int = 0, gradient_checkpointing: bool = False
):
    """The base model in the dtype of `plan` (a `training.runtime.RuntimePlan`: device, dtype "bfloat16" or
    "float32", quantization "4bit", "8bit" or "none"): 4-bit NF4 linear weights (bitsandbytes) with everything else
    in that dtype, or 8-bit prepared by peft for k-bit training."""
    before_peft()
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    dtype = getattr(torch, plan.dtype)
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
    with no_progress_bars():
        model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    # The cache path skips transformers' packed-sequence masking, and training never reuses a cache.
    model.config.use_cache = False
    # 4-bit: the unquantized weights stay in the plan's dtype, as in bf16 LoRA. peft's
    # prepare_model_for_kbit_training would upcast them to fp32 (for fp16 training, which MediMind never does), and
    # with them every hidden state: 1.5x the activation memory (benchmarks/train_memory.py). get_peft_model freezes
    # the base, and checkpointing is the Trainer's (non-reentrant: no input-gradient hook needed).
    if plan.quantization == "8bit":
        with peft_wrapping():
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(
                model,
                use_gradient_checkpointing=gradient_checkpointing,
                gradient_checkpointing_kwargs={"use_reentrant": False},
            )
    return model


def attach_adapter(model: PreTrainedModel, adapter_dir: Path):
    """Wrap `model` with the LoRA adapter, for inference; `with model.disable_adapter():` is the base."""
    adapter_dir = require_adapter_dir(Path(adapter_dir))
    try:
        with peft_wrapping():
            from peft import PeftModel

            peft_model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    except RuntimeError as exc:  # shape mismatch: trained on another base
        raise ValueError(f"adapter {adapter_dir} does not fit this base model: {exc}") from exc
    except (KeyError, TypeError) as exc:  # a setting of adapter_config.json peft cannot use (a hand-made adapter)
        raise ValueError(
            f"adapter {adapter_dir}: adapter_config.json is invalid ({type(exc).__name__}: {exc})"
        ) from exc
    return peft_model.eval()
