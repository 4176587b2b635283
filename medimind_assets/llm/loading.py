"""Load a base model, its tokenizer and a LoRA adapter for inference.

The base is always loaded in full precision for evaluation, merging and `medimind ask` (fp32 on CPU, bf16 on a
GPU that supports it, else fp32), whatever precision the adapter was trained in: LoRA weights apply to the
unquantized base, and 4-bit rounding would blur base-vs-adapter differences.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

WEIGHT_PATTERNS = ("*.safetensors",)
# Pickled weights can run code when loaded: they are refused, never read.
PICKLE_PATTERNS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")


class ArtifactMissingError(FileNotFoundError):
    """A model, adapter or pointer file that should exist does not. The message says what and where."""


def choose_device(device: str = "auto") -> str:
    import torch

    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def full_precision_dtype(device: str) -> torch.dtype:
    import torch

    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def require_model_dir(path: Path, what: str) -> Path:
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ArtifactMissingError(f"{what} not found: {path} has no config.json")
    if not any(any(path.glob(pattern)) for pattern in WEIGHT_PATTERNS):
        pickles = sorted(p.name for pattern in PICKLE_PATTERNS for p in path.glob(pattern))
        if pickles:
            raise ArtifactMissingError(
                f"{what} in {path} holds only pickled weights ({', '.join(pickles)}), which can run code when "
                "loaded; only safetensors weights are read"
            )
        raise ArtifactMissingError(f"{what} not found: {path} has no weight files (*.safetensors)")
    return path


def require_adapter_dir(path: Path) -> Path:
    """A complete adapter folder whose files are what training recorded (see integrity.verify_adapter)."""
    from medimind_assets.integrity import verify_adapter

    path = Path(path)
    if not (path / "adapter_config.json").is_file():
        raise ArtifactMissingError(f"LoRA adapter not found: {path} has no adapter_config.json")
    if not (path / "adapter_model.safetensors").is_file():
        pickles = sorted(p.name for pattern in PICKLE_PATTERNS for p in path.glob(pattern))
        found = f" (only pickled weights: {', '.join(pickles)}, which are never read)" if pickles else ""
        raise ArtifactMissingError(f"LoRA adapter not found: {path} has no adapter_model.safetensors{found}")
    verify_adapter(path)
    return path


def adapter_base_reference(adapter_dir: Path) -> str | None:
    """The base model the adapter names in its adapter_config.json (a hub id or a path)."""
    config = json.loads((Path(adapter_dir) / "adapter_config.json").read_text(encoding="utf-8"))
    return config.get("base_model_name_or_path")


def load_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.eos_token_id is None:
        raise ValueError(f"tokenizer in {path} has no EOS token; evaluation needs one to score answer ends")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(path: Path, device: str = "auto", dtype: torch.dtype | None = None) -> PreTrainedModel:
    from transformers import AutoModelForCausalLM

    path = require_model_dir(Path(path), "base model")
    device = choose_device(device)
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype or full_precision_dtype(device))
    return model.to(device).eval()


def attach_adapter(model: PreTrainedModel, adapter_dir: Path):
    """Wrap `model` with the LoRA adapter, for inference; `with model.disable_adapter():` is the base."""
    from peft import PeftModel

    adapter_dir = require_adapter_dir(Path(adapter_dir))
    try:
        peft_model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    except RuntimeError as exc:  # shape mismatch: trained on another base
        raise ValueError(f"adapter {adapter_dir} does not fit this base model: {exc}") from exc
    return peft_model.eval()
