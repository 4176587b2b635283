import dataclasses

import pytest

from medimind_assets.assets.training import RUN_CONTROL_FIELDS, LoraTrainingConfig
from medimind_assets.pipes_scripts import TRAINING
from medimind_assets.resources import PythonJob
from medimind_assets.training.hyperparameters import HyperparameterError, TrainingHyperparameters


def test_the_dagster_config_is_derived_from_the_dataclass_with_its_help():
    fields = {f.name: f for f in dataclasses.fields(TrainingHyperparameters)}
    config = {name: f for name, f in LoraTrainingConfig.model_fields.items() if name not in RUN_CONTROL_FIELDS}
    assert {name: f.default for name, f in config.items()} == {name: f.default for name, f in fields.items()}
    assert all(config[name].description == fields[name].metadata["help"] != "" for name in fields)
    assert LoraTrainingConfig().hyperparameters() == TrainingHyperparameters()
    custom = LoraTrainingConfig(learning_rate=1e-3, target_modules=["q_proj"], force=True)
    assert custom.hyperparameters() == TrainingHyperparameters(learning_rate=1e-3, target_modules=["q_proj"])


def test_seed_defaults():
    hp = TrainingHyperparameters()
    assert (hp.num_epochs, hp.batch_size, hp.gradient_accumulation_steps, hp.learning_rate) == (3, 4, 4, 2e-4)
    assert (hp.lora_r, hp.lora_alpha, hp.lora_dropout, hp.max_length) == (8, 16, 0.1, 512)
    assert hp.prompt_template == "Human: {instruction}\nAssistant: {response}"
    assert hp.loss_on == "response" and hp.quantization == "auto"


def test_no_4bit_means_no_quantization_and_the_same_fingerprint_inputs():
    seed_style = TrainingHyperparameters(no_4bit=True)
    assert seed_style.requested_quantization == "none"
    assert seed_style.result_affecting() == TrainingHyperparameters(quantization="none").result_affecting()
    with pytest.raises(HyperparameterError, match="no_4bit=True contradicts quantization='4bit'"):
        TrainingHyperparameters(no_4bit=True, quantization="4bit").validate()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"prompt_template": "Question: {instruction}"}, "prompt_template: .*{response}"),
        ({"prompt_template": "{response} then {instruction}"}, "must come before"),
        ({"quantization": "3bit"}, "quantization must be one of"),
        ({"loss_on": "prompt"}, "loss_on must be one of"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"lora_dropout": 1.0}, "lora_dropout"),
        ({"max_steps": 0}, "max_steps"),
        ({"max_steps": 1}, "max_steps 1 with warmup_ratio > 0"),
        ({"target_modules": []}, "target_modules"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"sources": ["pubmed"]}, "sources must be None"),
        ({"sources": []}, "sources must be None"),
        ({"preference": "ppo"}, "preference must be one of"),
        ({"preference_beta": 0}, "preference_beta must be a finite number > 0"),
        ({"num_epochs": float("inf")}, "num_epochs must be a finite number > 0, got inf"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number > 0"),
        ({"learning_rate": 1e38}, "learning_rate must be at most 1, got 1e\\+38"),
        ({"preference_sft_weight": float("inf")}, "preference_sft_weight must be a finite number >= 0"),
        ({"seed": -1}, "seed must be an integer from 0 to 2\\*\\*32 - 1"),
        ({"seed": 2**32}, "seed must be an integer"),
        ({"preference_max_pairs": 0}, "preference_max_pairs must be None"),
        ({"preference_max_length": 8}, "preference_max_length must be at least 16"),
    ],
)
def test_bad_values_are_named(values, message):
    with pytest.raises(HyperparameterError, match=message):
        TrainingHyperparameters.from_dict(values)


def test_the_preference_stage_runs_where_it_can_by_default_and_its_settings_count_only_with_it():
    assert TrainingHyperparameters().preference == "auto"
    hp = TrainingHyperparameters(preference="none")
    assert TrainingHyperparameters(preference="none", preference_beta=0.5).result_affecting() == hp.result_affecting()
    dpo = TrainingHyperparameters(preference="dpo")
    assert dpo.result_affecting() != hp.result_affecting()
    assert TrainingHyperparameters(preference="dpo", preference_beta=0.5).result_affecting() != dpo.result_affecting()


def test_unknown_hyperparameter_is_rejected():
    with pytest.raises(HyperparameterError, match="unknown hyperparameters \\['epochs'\\]"):
        TrainingHyperparameters.from_dict({"epochs": 2})


def test_logging_and_checkpoint_cadence_do_not_affect_the_result():
    base = TrainingHyperparameters().result_affecting()
    cadence = TrainingHyperparameters(logging_steps=1, save_steps=7, eval_steps=3, gradient_checkpointing=True)
    assert cadence.result_affecting() == base
    # Padding-free passes take other examples per step (random, not length-grouped): another adapter.
    assert TrainingHyperparameters(padding_free=True).result_affecting() != base
    # The same layers computed with fused kernels: the same adapter (test_train proves it), no retraining.
    assert TrainingHyperparameters(torch_compile=True).result_affecting() == base
    assert TrainingHyperparameters(learning_rate=1e-4).result_affecting() != base


def test_training_command_uses_accelerate_for_several_processes(tmp_path):
    def command(processes: int) -> list[str]:
        return PythonJob(TRAINING.module, {}, data_dir=tmp_path, num_processes=processes).command("python3")

    assert command(1) == ["python3", "-m", "medimind_assets.training.train_lora"]
    several = command(2)
    assert several[:4] == ["python3", "-m", "accelerate.commands.launch", "--multi_gpu"]
    assert several[several.index("--num_processes") + 1] == "2"
    assert several[-2:] == ["-m", "medimind_assets.training.train_lora"]
    with pytest.raises(ValueError, match="num_processes"):
        command(0)


@pytest.mark.parametrize(
    "name", ["num_epochs", "learning_rate", "preference_beta", "preference_epochs", "preference_learning_rate"]
)
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 0.0, -1e-9])
def test_every_rate_or_count_that_is_not_a_finite_positive_number_is_named(name, value):
    with pytest.raises(HyperparameterError, match=f"{name} must be a finite number > 0"):
        TrainingHyperparameters.from_dict({name: value})


@pytest.mark.parametrize("seed", [-(2**40), -1, 2**32, 2**63, 1.5, True, "42"])
def test_every_seed_numpy_cannot_take_is_named(seed):
    with pytest.raises(HyperparameterError, match="seed must be an integer from 0"):
        TrainingHyperparameters.from_dict({"seed": seed})
    assert TrainingHyperparameters.from_dict({"seed": 2**32 - 1}).seed == 2**32 - 1
