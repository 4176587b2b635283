"""LoRA training hyperparameters: the seed script's names and defaults, validated before any model loads.

Declared once, here, with their help text: `medimind_assets.assets.training.LoraTrainingConfig` is derived from
this dataclass (plus two run-control fields), and the training script only sees this one, so it never imports
Dagster.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from medimind_assets.data.rows import SOURCES
from medimind_assets.errors import MediMindError
from medimind_assets.llm.encoding import LOSS_ON_CHOICES
from medimind_assets.llm.template import DEFAULT_TEMPLATE, PromptTemplate, TemplateError
from medimind_assets.options import option

QUANTIZATION_CHOICES = ("auto", "4bit", "8bit", "none")
Quantization = Literal[QUANTIZATION_CHOICES]  # the launchpad refuses another value before the run starts

# Fields that change what is logged, evaluated or checkpointed, or how a step is computed, not the trained weights:
# they stay out of the fingerprint, so changing them neither retrains a finished adapter nor discards resumable
# checkpoints. (`torch_compile` computes the same layers with fused kernels.)
NON_RESULT_FIELDS = frozenset(
    {
        "save_steps",
        "keep_checkpoints",
        "eval_steps",
        "logging_steps",
        "gradient_checkpointing",
        "max_eval_examples",
        "torch_compile",
    }
)
PREFERENCE_CHOICES = ("auto", "dpo", "none")


class HyperparameterError(MediMindError, ValueError):
    """A hyperparameter value training cannot use; the message names the field."""


@dataclass(frozen=True)
class TrainingHyperparameters:
    """The seed script's hyperparameters (same names and defaults) and a few of our own; validated together."""

    num_epochs: float = option(3, "Passes over the train split.")
    batch_size: int = option(4, "Examples per device per step.")
    gradient_accumulation_steps: int = option(4, "Steps per optimizer update.")
    learning_rate: float = option(2e-4, "Peak learning rate (linear schedule after the warmup).")
    max_length: int = option(512, "Tokens per example; longer responses are cut (and get no EOS).")
    save_steps: int = option(100, "Optimizer steps between resumable checkpoints.")
    keep_checkpoints: bool = option(
        False, "Keep the run's checkpoints once its adapter is published (default: removed; they hold optimizer state)."
    )
    eval_steps: int = option(50, "Optimizer steps between validation losses.")
    logging_steps: int = option(10, "Optimizer steps between progress lines.")
    lora_r: int = option(8, "LoRA rank.")
    lora_alpha: int = option(16, "LoRA scaling numerator (the update is scaled by alpha / r).")
    lora_dropout: float = option(0.1, "Dropout on the LoRA input.")
    target_modules: list[str] | None = option(None, "LoRA targets; None = the base model manifest's (by architecture).")
    quantization: Quantization = option(
        "auto", "auto | 4bit | 8bit | none. auto: 4-bit only on a GPU too small for bf16 weights."
    )
    no_4bit: bool = option(False, "The seed's flag: True means quantization='none'.")
    warmup_ratio: float = option(0.03, "Share of the steps with a rising learning rate.")
    seed: int = option(42, "Seed of initialisation, shuffling and subsets.")
    max_steps: int = option(
        -1,
        "Stop after this many optimizer steps (-1: off); for smoke runs. The preference stage stops there too, or at "
        "the end of its epochs if sooner.",
    )
    max_train_examples: int | None = option(None, "Train on a seeded subset of this size.")
    max_eval_examples: int | None = option(None, "Validate on a seeded subset of this size.")
    sources: list[str] | None = option(None, "Train and validate on these sources' rows only (None: all).")
    gradient_checkpointing: bool = option(False, "Trade ~40% speed for activation memory.")
    prompt_template: str = option(DEFAULT_TEMPLATE, "Must hold {instruction} and {response}.")
    loss_on: str = option("response", "response: prompt tokens masked out of the loss; all: not.")
    packing: bool = option(
        False, "Pack whole examples into rows of max_length tokens (trl's best-fit packing; checked exact first)."
    )
    padding_free: bool = option(
        False,
        "Each forward pass's examples in one row without padding (checked exact first; for GPUs with "
        "flash_attention_2). False: passes padded to their longest example, examples grouped by length.",
    )
    torch_compile: bool = option(
        False,
        "Compile the model with torch.compile (fused kernels, for GPUs); the first steps include the compile time. "
        "The same adapter up to float rounding and dropout's random draws.",
    )
    preference: str = option(
        "auto",
        "auto | dpo | none: after SFT, tune the adapter with trl's DPO on (question, correct answer, incorrect answer) "
        "pairs of the MEDIQA 2019 training questions (never a validation or test question). auto: when the train "
        "split has such pairs, else SFT alone; dpo: refused without pairs.",
    )
    preference_beta: float = option(0.1, "DPO's beta: how far the tuned adapter may move from the SFT adapter.")
    preference_epochs: float = option(1, "Passes over the preference pairs.")
    preference_learning_rate: float = option(1e-4, "Peak learning rate of the preference stage.")
    preference_sft_weight: float = option(
        2.0, "Weight of an NLL term on the correct answers added to the DPO loss (trl's 'sft' loss; 0: none)."
    )
    preference_max_pairs: int | None = option(None, "Tune on a seeded subset of this many pairs (None: all).")
    preference_max_length: int = option(
        256, "Tokens of question + answer per preference sequence (each pair is two, and a reference pass each)."
    )

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingHyperparameters:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise HyperparameterError(f"unknown hyperparameters {unknown}; known: {sorted(known)}")
        hyperparameters = cls(**values)
        hyperparameters.validate()
        return hyperparameters

    @property
    def requested_quantization(self) -> str:
        """`quantization`, with the seed's `no_4bit=True` meaning "none"."""
        return "none" if self.no_4bit else self.quantization

    @property
    def template(self) -> PromptTemplate:
        return PromptTemplate(self.prompt_template)

    def result_affecting(self) -> dict[str, Any]:
        """The hyperparameters that change the trained weights (what the fingerprint hashes)."""
        values = {k: v for k, v in dataclasses.asdict(self).items() if k not in NON_RESULT_FIELDS}
        values["quantization"] = self.requested_quantization
        values.pop("no_4bit")
        if self.preference == "none":  # the preference stage's settings change nothing without it
            values = {k: v for k, v in values.items() if not k.startswith("preference_")}
        return values

    def validate(self) -> None:
        """Raise HyperparameterError naming the first unusable value."""
        positive = (
            "batch_size",
            "gradient_accumulation_steps",
            "max_length",
            "save_steps",
            "eval_steps",
            "logging_steps",
            "lora_r",
            "lora_alpha",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise HyperparameterError(f"{name} must be a positive integer, got {value!r}")
        if self.max_length < 16:
            raise HyperparameterError(f"max_length must be at least 16 tokens, got {self.max_length}")
        for name in ("num_epochs", "learning_rate", "preference_beta", "preference_epochs", "preference_learning_rate"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise HyperparameterError(f"{name} must be a finite number > 0, got {value!r}")
        for name in ("learning_rate", "preference_learning_rate"):  # Adam overflows far above; LoRA uses ~1e-4
            if getattr(self, name) > 1:
                raise HyperparameterError(f"{name} must be at most 1, got {getattr(self, name)!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed < 2**32:
            raise HyperparameterError(f"seed must be an integer from 0 to 2**32 - 1 (numpy's range), got {self.seed!r}")
        for name in ("lora_dropout", "warmup_ratio"):
            if not 0 <= getattr(self, name) < 1:
                raise HyperparameterError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise HyperparameterError(f"max_steps must be -1 (off) or a positive integer, got {self.max_steps}")
        if self.max_steps == 1 and self.warmup_ratio > 0:  # refused after training otherwise (check_trained)
            raise HyperparameterError(
                "max_steps 1 with warmup_ratio > 0: its one step runs at learning rate 0 and would change nothing; "
                "set max_steps to 2 or more, or warmup_ratio: 0"
            )
        choices = {"preference": PREFERENCE_CHOICES, "quantization": QUANTIZATION_CHOICES, "loss_on": LOSS_ON_CHOICES}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise HyperparameterError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not isinstance(self.preference_max_length, int) or self.preference_max_length < 16:
            raise HyperparameterError(f"preference_max_length must be at least 16, got {self.preference_max_length!r}")
        if not (math.isfinite(self.preference_sft_weight) and self.preference_sft_weight >= 0):
            raise HyperparameterError(
                f"preference_sft_weight must be a finite number >= 0, got {self.preference_sft_weight!r}"
            )
        for name in ("max_train_examples", "max_eval_examples", "preference_max_pairs"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise HyperparameterError(f"{name} must be None (all) or a positive integer, got {value}")
        if self.sources is not None and (not self.sources or not set(self.sources) <= set(SOURCES)):
            raise HyperparameterError(
                f"sources must be None (all) or a non-empty list of {SOURCES}, got {self.sources!r}"
            )
        if self.no_4bit and self.quantization in ("4bit", "8bit"):
            raise HyperparameterError(
                f"no_4bit=True contradicts quantization={self.quantization!r}; set only one of them"
            )
        if self.target_modules is not None and (
            not self.target_modules or not all(isinstance(m, str) and m for m in self.target_modules)
        ):
            raise HyperparameterError(
                f"target_modules must be None (by architecture) or a non-empty list of module names, "
                f"got {self.target_modules!r}"
            )
        try:
            self.template  # noqa: B018 - constructing the template validates it
        except TemplateError as error:
            raise HyperparameterError(f"prompt_template: {error} (example: {DEFAULT_TEMPLATE!r})") from None
