"""`quickstart.yaml`, the run config of `make quickstart`, fits the job and bounds what it may cost."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import yaml

from medimind_assets.definitions import defs

QUICKSTART = Path(__file__).resolve().parents[1] / "quickstart.yaml"


def quickstart_config() -> dict:
    return yaml.safe_load(QUICKSTART.read_text(encoding="utf-8"))


def test_quickstart_config_is_valid_for_the_pipeline():
    result = dg.validate_run_config(defs().resolve_job_def("medimind_pipeline"), quickstart_config())
    assert result["ops"]["lora_adapter"]["config"]["num_epochs"] > 0


def test_quickstart_sets_its_own_bounds_and_log_level():
    """Every cost bound the quick start relies on is explicit, so a changed default cannot make it slow."""
    config = quickstart_config()
    training, evaluation = (config["ops"][name]["config"] for name in ("lora_adapter", "evaluation"))
    assert {"num_epochs", "max_length", "batch_size", "learning_rate"} <= training.keys()
    bounds = {"max_new_tokens", "generation_sample", "max_safety_questions", "ranking_max_questions"}
    assert bounds | {"max_test_questions", "max_response_tokens"} <= evaluation.keys()
    assert config["loggers"]["console"]["config"]["log_level"] == "INFO"
