"""`accelerate launch` with two CPU processes (gloo): the same script trains one adapter, rank 0 reports."""

import json
from pathlib import Path

import dagster as dg
import pytest

from .conftest import materialize_lora, run_messages


@pytest.mark.slow
def test_two_processes_train_one_loadable_adapter(settings, tiny_phi):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    instance = dg.DagsterInstance.ephemeral()
    result = materialize_lora(settings, instance, num_processes=2, max_steps=4, save_steps=2, eval_steps=2)
    assert result.success, run_messages(instance, result)
    [materialization] = result.asset_materializations_for_node("lora_adapter")
    runtime = materialization.metadata["runtime"].value
    assert runtime["world_size"] == 2
    # Data parallel: each step takes a batch of 4 on each process, so 4 steps cover the 30 examples
    # (one process alone would be half-way through the epoch).
    assert materialization.metadata["global_step"].value == 4
    assert materialization.metadata["epochs"].value >= 1.0
    summary = json.loads(
        (Path(materialization.metadata["identifiers"].value["adapter_path"]) / "training_summary.json").read_text()
    )
    assert summary["dataset"]["train_examples"] == 30
    # One process talks to Dagster: each progress line arrives once.
    lines = [m for m in run_messages(instance, result) if "step 4/4 epoch" in m]
    assert len(lines) == 1
    base = AutoModelForCausalLM.from_pretrained(tiny_phi["path"])
    PeftModel.from_pretrained(base, materialization.metadata["identifiers"].value["adapter_path"])
