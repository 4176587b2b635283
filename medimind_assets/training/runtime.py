"""Device, precision and quantization for a run, decided once before the model loads, with the reason.

- CUDA: bf16 where the GPU supports it, else fp32. Never fp16: phi-2's attention overflows in fp16
  (transformers PR #28163).
- CPU: fp32.
- quantization "auto": 4-bit only on CUDA when the bf16 weights would take more than
  `AUTO_4BIT_WEIGHT_SHARE` of the GPU's memory (activations, LoRA optimizer state and the CUDA context need
  the rest); otherwise none. 4-bit QLoRA is slower than bf16 LoRA on a GPU that fits the model.
- "4bit"/"8bit" requested: bitsandbytes must really run on the device (probed with a tiny op), else a clear
  error before any training.
- attention: flash_attention_2 for packing on a bf16 GPU that has the package; sdpa otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

AUTO_4BIT_WEIGHT_SHARE = 0.5


class QuantizationUnavailableError(RuntimeError):
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
        index = torch.cuda.current_device()
        properties = torch.cuda.get_device_properties(index)
        return cls(
            device="cuda",
            bf16_supported=torch.cuda.is_bf16_supported(),
            gpu_name=properties.name,
            gpu_memory_bytes=int(properties.total_memory),
        )


@dataclass(frozen=True)
class RuntimePlan:
    device: str
    dtype: str  # "bfloat16" | "float32"
    quantization: str  # "4bit" | "8bit" | "none"
    quantization_reason: str
    dtype_reason: str
    gpu_name: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


def plan_runtime(requested_quantization: str, num_parameters: int, hardware: Hardware) -> RuntimePlan:
    """Pick dtype and quantization for `num_parameters` on `hardware` (pure: no probing)."""
    if hardware.device == "cuda":
        if hardware.bf16_supported:
            dtype, dtype_reason = "bfloat16", f"{hardware.gpu_name} supports bf16"
        else:
            dtype, dtype_reason = "float32", f"{hardware.gpu_name} has no bf16 (fp16 overflows in phi attention)"
    else:
        dtype, dtype_reason = "float32", "CPU"

    if requested_quantization != "auto":
        reason = f"requested quantization={requested_quantization!r}"
        return RuntimePlan(hardware.device, dtype, requested_quantization, reason, dtype_reason, hardware.gpu_name)

    if hardware.device != "cuda":
        quantization, reason = "none", "auto: 4-bit is only chosen on CUDA GPUs; on CPU the weights stay fp32"
    else:
        weight_bytes = num_parameters * 2
        budget = AUTO_4BIT_WEIGHT_SHARE * (hardware.gpu_memory_bytes or 0)
        share = f"{weight_bytes / 2**30:.1f} GiB of bf16 weights vs {hardware.gpu_memory_bytes / 2**30:.1f} GiB GPU"
        if weight_bytes > budget:
            quantization = "4bit"
            reason = f"auto: {share} (over {AUTO_4BIT_WEIGHT_SHARE:.0%}): 4-bit NF4 so training fits"
        else:
            quantization = "none"
            reason = f"auto: {share} fits comfortably: bf16 LoRA (faster than 4-bit)"
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


def attention_implementation(plan: RuntimePlan, packing: bool) -> str:
    """flash_attention_2 for packing on a bf16 GPU that has the package; sdpa otherwise."""
    if packing and plan.device == "cuda" and plan.dtype == "bfloat16":
        from transformers.utils import is_flash_attn_2_available

        if is_flash_attn_2_available():
            return "flash_attention_2"
    return "sdpa"
