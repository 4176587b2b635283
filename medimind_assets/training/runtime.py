"""Device, precision and quantization for a run, decided once before the model loads, with the reason.

Never fp16: phi-2's attention overflows in fp16 (transformers PR #28163), so a GPU without bf16 trains in fp32.
quantization "auto" picks 4-bit NF4 only on a GPU too small for the unquantized model by `estimated_peak_bytes`:
4-bit QLoRA is slower than bf16 LoRA where the model fits. A requested "4bit"/"8bit" is probed on the device
before any training, so a bitsandbytes build that cannot run there fails with a clear error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from medimind_assets.errors import MediMindError

GiB = 2**30
# Bytes that one decoder layer keeps for the backward pass, per token and per unit of hidden size, in bf16 LoRA
# (autocast, the seed's LoRA on attention and dense, eager kernels): 175 KiB per token and layer at phi-2's
# hidden size of 2,560 (benchmarks/train_memory.py); it matches the 49 GiB measured on an H100 for passes of
# 16 x 512 tokens. fp32 doubles it.
ACTIVATION_BYTES_PER_HIDDEN = 70
# Bytes per parameter of a 4-bit NF4 linear weight with its double-quantized scales.
NF4_BYTES_PER_PARAMETER = 0.53
LOSS_CHUNK_BYTES = 2**29  # trl's fused LM head: one tile of 4,096 tokens x 32,768 vocabulary entries in fp32
CUDA_OVERHEAD_BYTES = GiB  # CUDA context, cuBLAS workspaces and allocator slack, outside torch's count


class QuantizationUnavailableError(MediMindError, RuntimeError):
    """The requested bitsandbytes quantization cannot run here."""


@dataclass(frozen=True)
class Hardware:
    device: str  # "cuda" or "cpu"
    bf16_supported: bool = False
    gpu_name: str | None = None
    gpu_memory_bytes: int | None = None

    @classmethod
    def detect(cls) -> Hardware:
        import torch

        if not torch.cuda.is_available():
            return cls(device="cpu")
        properties = torch.cuda.get_device_properties(torch.cuda.current_device())
        return cls(
            device="cuda",
            bf16_supported=torch.cuda.is_bf16_supported(),
            gpu_name=properties.name,
            gpu_memory_bytes=int(properties.total_memory),
        )


@dataclass(frozen=True)
class ModelShape:
    """What the memory estimate needs of a model (its config.json and parameter count)."""

    num_parameters: int
    hidden_size: int
    num_layers: int
    embedding_parameters: int  # input embeddings and output head, which 4-bit leaves unquantized

    @classmethod
    def from_config(cls, config: dict, num_parameters: int) -> ModelShape:
        hidden, vocab = int(config["hidden_size"]), int(config["vocab_size"])
        tables = 1 if config.get("tie_word_embeddings") else 2
        return cls(num_parameters, hidden, int(config["num_hidden_layers"]), tables * vocab * hidden)


def model_shape(manifest: dict) -> ModelShape | None:
    """The shape of a base model from its manifest (parameter count) and its folder's config.json; None when the
    config does not say (a model whose quantization must then be chosen explicitly)."""
    config = json.loads((Path(manifest["path"]) / "config.json").read_text(encoding="utf-8"))
    try:
        return ModelShape.from_config(config, int(manifest.get("num_parameters") or 0))
    except (KeyError, TypeError, ValueError):
        return None


def estimated_peak_bytes(shape: ModelShape, quantization: str, dtype: str, tokens_per_pass: int) -> int:
    """Peak GPU memory of LoRA training, as the backward pass starts (see ACTIVATION_BYTES_PER_HIDDEN)."""
    width = 2 if dtype == "bfloat16" else 4
    if quantization == "4bit":
        quantized = shape.num_parameters - shape.embedding_parameters
        weights = quantized * NF4_BYTES_PER_PARAMETER + shape.embedding_parameters * width
    else:
        weights = shape.num_parameters * width
    activations = ACTIVATION_BYTES_PER_HIDDEN * (width // 2) * shape.hidden_size * shape.num_layers * tokens_per_pass
    return int(weights + activations + LOSS_CHUNK_BYTES + CUDA_OVERHEAD_BYTES)


@dataclass(frozen=True)
class RuntimePlan:
    device: str
    dtype: str  # "bfloat16" | "float32"
    quantization: str  # "4bit" | "8bit" | "none"
    quantization_reason: str
    dtype_reason: str
    gpu_name: str | None = None


def plan_runtime(
    requested_quantization: str, hardware: Hardware, shape: ModelShape | None = None, tokens_per_pass: int = 2048
) -> RuntimePlan:
    """Pick dtype and quantization on `hardware` (pure: no probing). "auto" on CUDA needs the model's `shape`, and
    the tokens of the largest forward pass."""
    if hardware.device == "cuda":
        if hardware.bf16_supported:
            dtype, dtype_reason = "bfloat16", f"{hardware.gpu_name} supports bf16"
        else:
            dtype, dtype_reason = "float32", f"{hardware.gpu_name} has no bf16 (fp16 overflows in phi attention)"
    else:
        dtype, dtype_reason = "float32", "CPU"

    if requested_quantization != "auto":
        quantization, reason = requested_quantization, f"requested quantization={requested_quantization!r}"
    elif hardware.device != "cuda":
        quantization, reason = "none", "auto: 4-bit is only chosen on CUDA GPUs; on CPU the weights stay fp32"
    elif shape is None:
        raise QuantizationUnavailableError(
            "quantization 'auto' estimates the training memory from the model's config.json (hidden_size, "
            "num_hidden_layers, vocab_size), which this model's lacks: set quantization to 'none' or '4bit'"
        )
    else:
        memory = hardware.gpu_memory_bytes or 0
        precision = "bf16" if dtype == "bfloat16" else "fp32"
        full = estimated_peak_bytes(shape, "none", dtype, tokens_per_pass)
        gpu = f"{memory / GiB:.1f} GiB GPU, passes of {tokens_per_pass:,} tokens"
        if full <= memory:
            quantization = "none"
            reason = f"auto: {precision} LoRA fits (estimated peak {full / GiB:.1f} GiB of {gpu}); faster than 4-bit"
        else:
            quantization = "4bit"
            nf4 = estimated_peak_bytes(shape, "4bit", dtype, tokens_per_pass)
            reason = (
                f"auto: {precision} LoRA would not fit (estimated peak {full / GiB:.1f} GiB of {gpu}): 4-bit NF4, "
                f"estimated {nf4 / GiB:.1f} GiB"
            )
            if nf4 > memory:
                reason += "; still too much: set gradient_checkpointing=True or a smaller batch_size"
    return RuntimePlan(hardware.device, dtype, quantization, reason, dtype_reason, hardware.gpu_name)


def check_quantization_available(quantization: str, device: str) -> None:
    """Run a tiny bitsandbytes op of the requested kind on `device`; raise a clear error if it cannot."""
    if quantization == "none":
        return
    try:
        import torch

        from medimind_assets.quiet import import_bitsandbytes

        bnb = import_bitsandbytes()

        if quantization == "4bit":
            weight = torch.randn(64, 64, device=device)
            packed, state = bnb.functional.quantize_4bit(weight, quant_type="nf4")
            restored = bnb.functional.dequantize_4bit(packed, state)
            if not torch.isfinite(restored).all():
                raise RuntimeError("NF4 round trip produced non-finite values")
        elif quantization == "8bit":
            layer = bnb.nn.Linear8bitLt(64, 64, has_fp16_weights=False).to(device)
            layer(torch.randn(2, 64, device=device, dtype=torch.float16))
        else:
            raise ValueError(f"unknown quantization {quantization!r}")
    except ImportError as error:
        raise QuantizationUnavailableError(
            f"quantization={quantization!r} needs bitsandbytes, which is not importable ({error}); "
            "install bitsandbytes or use quantization='none'"
        ) from None
    except (RuntimeError, NotImplementedError, AttributeError, TypeError) as error:
        raise QuantizationUnavailableError(
            f"quantization={quantization!r} is not available on {device} with this bitsandbytes build "
            f"({type(error).__name__}: {error}); use quantization='none' (or 'auto')"
        ) from None


def attention_implementation(plan: RuntimePlan, flattened: bool) -> str:
    """flash_attention_2 for flattened batches on a bf16 GPU that has the package; sdpa otherwise."""
    if flattened and plan.device == "cuda" and plan.dtype == "bfloat16":
        from transformers.utils import is_flash_attn_2_available

        if is_flash_attn_2_available():
            return "flash_attention_2"
    return "sdpa"
