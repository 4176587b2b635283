"""The TrainingArguments we build are accepted by the installed transformers, whichever names it uses."""

from pathlib import Path

import pytest

from medimind_assets.training import trainer as trainer_module
from medimind_assets.training.hyperparameters import TrainingHyperparameters
from medimind_assets.training.runtime import Hardware, plan_runtime
from medimind_assets.training.trainer import training_arguments, version_dependent_arguments


@pytest.mark.parametrize("checkpointing", [False, True])
@pytest.mark.parametrize("packing", [False, True])
def test_the_installed_transformers_accepts_our_training_arguments(tmp_path: Path, checkpointing, packing):
    hp = TrainingHyperparameters(gradient_checkpointing=checkpointing, packing=packing)
    args = training_arguments(hp, plan_runtime("none", Hardware(device="cpu")), tmp_path, has_eval=True)
    checkpointing_flag = getattr(args, "activation_checkpointing", None)
    if checkpointing_flag is None:
        checkpointing_flag = args.gradient_checkpointing
    assert bool(checkpointing_flag) is checkpointing
    # One Trainer batch is one optimizer step of the seed's 16 examples.
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (16, 1)
    assert args.per_device_eval_batch_size == 4
    assert args.logging_nan_inf_filter is False  # its per-step isnan test would wait for the GPU every step


def test_argument_names_follow_the_transformers_version(monkeypatch):
    def names(*present: str):
        monkeypatch.setattr(trainer_module, "_training_argument_names", lambda: frozenset(present))

    names("activation_checkpointing", "gradient_checkpointing", "train_sampling_strategy")  # 5.23 and later
    assert version_dependent_arguments(True, packing=False) == {
        "activation_checkpointing": True,
        "activation_checkpointing_kwargs": {"use_reentrant": False},
        "train_sampling_strategy": "group_by_length",
    }
    names("gradient_checkpointing", "train_sampling_strategy")  # 5.2 to 5.22
    assert version_dependent_arguments(True, packing=True) == {
        "gradient_checkpointing": True,
        "gradient_checkpointing_kwargs": {"use_reentrant": False},
        "train_sampling_strategy": "random",
    }
    names("gradient_checkpointing", "group_by_length")  # 5.0 and 5.1
    assert version_dependent_arguments(False, packing=False) == {
        "gradient_checkpointing": False,
        "gradient_checkpointing_kwargs": {"use_reentrant": False},
        "group_by_length": True,
    }
