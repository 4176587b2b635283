import sys

import pytest

from medimind_assets.training.runtime import (
    Hardware,
    ModelShape,
    QuantizationUnavailableError,
    check_quantization_available,
    estimated_peak_bytes,
    model_shape,
    plan_runtime,
)

PHI2 = ModelShape.from_config(
    {"hidden_size": 2560, "num_hidden_layers": 32, "vocab_size": 51200, "tie_word_embeddings": False}, 2_779_683_840
)
H100 = Hardware(device="cuda", bf16_supported=True, gpu_name="NVIDIA H100", gpu_memory_bytes=80 * 2**30)
RTX4090 = Hardware(device="cuda", bf16_supported=True, gpu_name="RTX 4090", gpu_memory_bytes=24 * 2**30)
A4000 = Hardware(device="cuda", bf16_supported=True, gpu_name="RTX A4000", gpu_memory_bytes=16 * 2**30)
T4 = Hardware(device="cuda", bf16_supported=False, gpu_name="Tesla T4", gpu_memory_bytes=15 * 2**30)
SMALL_BF16 = Hardware(device="cuda", bf16_supported=True, gpu_name="RTX 3050", gpu_memory_bytes=8 * 2**30)


def test_cpu_trains_in_fp32_without_quantization():
    plan = plan_runtime("auto", Hardware(device="cpu"), PHI2)
    assert (plan.device, plan.dtype, plan.quantization) == ("cpu", "float32", "none")
    assert "CUDA" in plan.quantization_reason


def test_phi2_estimates_match_the_saved_tensor_measurement():
    # benchmarks/train_memory.py, passes of 4 x 512 tokens: 5.2 + 10.7 GiB in bf16, 1.7 + 10.7 GiB in 4-bit
    # (torch's count), plus the loss chunk and the CUDA overhead here.
    assert estimated_peak_bytes(PHI2, "none", "bfloat16", 2048) / 2**30 == pytest.approx(17.6, abs=0.1)
    assert estimated_peak_bytes(PHI2, "4bit", "bfloat16", 2048) / 2**30 == pytest.approx(14.2, abs=0.1)


@pytest.mark.parametrize("gpu", [H100, RTX4090])
def test_a_gpu_that_fits_phi2_trains_it_in_bf16_without_quantization(gpu):
    plan = plan_runtime("auto", gpu, PHI2)
    assert (plan.dtype, plan.quantization) == ("bfloat16", "none")
    assert plan.quantization_reason.startswith("auto: bf16 LoRA fits (estimated peak 17.6 GiB of")


def test_a_16_gb_gpu_gets_4bit_because_bf16_activations_would_not_fit():
    # The weights alone (5.2 GiB) would fit three times over; the activations of 2,048-token passes do not.
    plan = plan_runtime("auto", A4000, PHI2)
    assert (plan.dtype, plan.quantization) == ("bfloat16", "4bit")
    assert "estimated peak 17.6 GiB of 16.0 GiB GPU, passes of 2,048 tokens): 4-bit NF4, estimated 14.2 GiB" in (
        plan.quantization_reason
    )
    assert "still too much" not in plan.quantization_reason


def test_the_estimate_follows_the_tokens_per_pass():
    assert plan_runtime("auto", A4000, PHI2, tokens_per_pass=512).quantization == "none"
    assert plan_runtime("auto", H100, PHI2, tokens_per_pass=65536).quantization == "4bit"


def test_a_gpu_too_small_even_for_4bit_says_what_to_change():
    plan = plan_runtime("auto", SMALL_BF16, PHI2)
    assert plan.quantization == "4bit"
    assert "set gradient_checkpointing=True or a smaller batch_size" in plan.quantization_reason


def test_gpu_without_bf16_uses_fp32_never_fp16():
    plan = plan_runtime("auto", T4, PHI2)
    assert plan.dtype == "float32"
    assert "fp16" in plan.dtype_reason
    # fp32 weights and activations take twice the bytes of bf16 ones.
    assert plan.quantization == "4bit" and "fp32 LoRA would not fit" in plan.quantization_reason


def test_auto_on_a_gpu_needs_the_models_shape():
    with pytest.raises(QuantizationUnavailableError, match="set quantization to 'none' or '4bit'"):
        plan_runtime("auto", H100, None)


def test_the_shape_is_read_from_the_models_config(tiny_phi):
    shape = model_shape(tiny_phi)
    assert (shape.num_parameters, shape.hidden_size, shape.num_layers) == (tiny_phi["num_parameters"], 64, 2)


def test_an_explicit_request_is_kept():
    plan = plan_runtime("8bit", H100)
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
