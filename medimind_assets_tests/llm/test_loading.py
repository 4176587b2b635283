"""Model loading: full precision for inference, the run's plan for training, folders checked first."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from medimind_assets.llm.artifacts import ArtifactMissingError
from medimind_assets.llm.loading import load_for_inference, load_for_training

# What load_for_training reads of a training run's RuntimePlan.
CPU_PLAN = SimpleNamespace(device="cpu", dtype="float32", quantization="none")


def test_inference_loads_full_precision_in_eval_mode(tiny_model_dir: Path):
    model = load_for_inference(tiny_model_dir, "cpu")
    assert not model.training and next(model.parameters()).dtype == torch.float32
    assert str(next(model.parameters()).device) == "cpu"


def test_training_follows_the_plan_and_turns_the_cache_off(tiny_model_dir: Path):
    model = load_for_training(tiny_model_dir, CPU_PLAN, "sdpa")
    assert next(model.parameters()).dtype == torch.float32 and model.config.use_cache is False
    assert model.config._attn_implementation == "sdpa"


def test_4bit_keeps_the_unquantized_weights_and_hidden_states_in_the_plans_dtype(tiny_model_dir: Path):
    # peft's prepare_model_for_kbit_training would upcast them to fp32, and 1.5x the activation memory with them.
    plan = SimpleNamespace(device="cpu", dtype="bfloat16", quantization="4bit")
    model = load_for_training(tiny_model_dir, plan, "sdpa")
    unquantized = {p.dtype for p in model.parameters() if type(p).__name__ != "Params4bit"}
    assert unquantized == {torch.bfloat16}
    assert any(type(p).__name__ == "Params4bit" for p in model.parameters())
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16):
        hidden = model(input_ids=torch.tensor([[1, 2, 3]]), output_hidden_states=True).hidden_states
    assert {h.dtype for h in hidden} == {torch.bfloat16}


def test_same_weights_either_way(tiny_model_dir: Path, tiny_tokenizer):
    ids = torch.tensor([tiny_tokenizer("Human: What is gout?\nAssistant:")["input_ids"]])
    trained = load_for_training(tiny_model_dir, CPU_PLAN, "sdpa").eval()
    with torch.inference_mode():
        expected = load_for_inference(tiny_model_dir, "cpu")(input_ids=ids).logits
        torch.testing.assert_close(trained(input_ids=ids).logits, expected)


def test_tokenizer_pads_with_eos(tiny_tokenizer):
    assert tiny_tokenizer.eos_token_id is not None and tiny_tokenizer.pad_token_id is not None


def test_a_folder_without_a_model_is_one_clear_error(tmp_path: Path):
    with pytest.raises(ArtifactMissingError, match="base model not found: .* has no config.json"):
        load_for_inference(tmp_path, "cpu")
