import sys

import pytest

from medimind_assets.training.runtime import (
    Hardware,
    QuantizationUnavailableError,
    check_quantization_available,
    plan_runtime,
)

PHI2 = 2_779_683_840
H100 = Hardware(device="cuda", bf16_supported=True, gpu_name="NVIDIA H100", gpu_memory_bytes=80 * 2**30)
T4 = Hardware(device="cuda", bf16_supported=False, gpu_name="Tesla T4", gpu_memory_bytes=15 * 2**30)
SMALL_BF16 = Hardware(device="cuda", bf16_supported=True, gpu_name="RTX 3050", gpu_memory_bytes=8 * 2**30)


def test_cpu_trains_in_fp32_without_quantization():
    plan = plan_runtime("auto", PHI2, Hardware(device="cpu"))
    assert (plan.device, plan.dtype, plan.quantization) == ("cpu", "float32", "none")
    assert "CUDA" in plan.quantization_reason


def test_big_gpu_trains_phi2_in_bf16_without_quantization():
    plan = plan_runtime("auto", PHI2, H100)
    assert (plan.dtype, plan.quantization) == ("bfloat16", "none")
    assert "fits comfortably" in plan.quantization_reason


def test_small_gpu_gets_4bit_with_the_reason():
    plan = plan_runtime("auto", PHI2, SMALL_BF16)
    assert (plan.dtype, plan.quantization) == ("bfloat16", "4bit")
    assert "5.2 GiB of bf16 weights vs 8.0 GiB GPU" in plan.quantization_reason


def test_gpu_without_bf16_uses_fp32_never_fp16():
    plan = plan_runtime("auto", PHI2, T4)
    assert plan.dtype == "float32"
    assert "fp16" in plan.dtype_reason


def test_an_explicit_request_is_kept():
    plan = plan_runtime("8bit", PHI2, H100)
    assert plan.quantization == "8bit" and plan.quantization_reason == "requested quantization='8bit'"


@pytest.mark.parametrize("quantization", ["4bit", "8bit", "none"])
def test_bitsandbytes_runs_on_this_cpu(quantization):
    check_quantization_available(quantization, "cpu")


def test_missing_bitsandbytes_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)
    with pytest.raises(QuantizationUnavailableError, match="needs bitsandbytes"):
        check_quantization_available("4bit", "cpu")


def test_a_device_bitsandbytes_cannot_use_is_a_clear_error():
    with pytest.raises(QuantizationUnavailableError, match="not available on meta"):
        check_quantization_available("4bit", "meta")
