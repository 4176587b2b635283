"""LoRA training hyperparameters: the seed script's names and defaults, validated before any model loads.

`medimind_assets.assets.training.LoraTrainingConfig` mirrors this dataclass field for field (a test holds them
together); the training script only sees this one, so it never imports Dagster.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from medimind_assets.llm.encoding import LOSS_ON_CHOICES
from medimind_assets.llm.template import DEFAULT_TEMPLATE, PromptTemplate, TemplateError

QUANTIZATION_CHOICES = ("auto", "4bit", "8bit", "none")

# Fields that change what is logged, evaluated or checkpointed, not the trained weights: they stay out of the
# fingerprint, so changing them neither retrains a finished adapter nor discards resumable checkpoints.
NON_RESULT_FIELDS = frozenset(
    {"save_steps", "eval_steps", "logging_steps", "gradient_checkpointing", "max_eval_examples"}
)


class HyperparameterError(ValueError):
    """A hyperparameter value training cannot use; the message names the field."""


@dataclass(frozen=True)
class TrainingHyperparameters:
    num_epochs: float = 3
    batch_size: int = 4
    gradient_accumulation_steps: int = 4
    learning_rate: float = 2e-4
    max_length: int = 512
    save_steps: int = 100
    eval_steps: int = 50
    logging_steps: int = 10
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    target_modules: list[str] | None = None
    quantization: str = "auto"
    no_4bit: bool = False
    warmup_ratio: float = 0.03
    seed: int = 42
    max_steps: int = -1
    max_train_examples: int | None = None
    max_eval_examples: int | None = None
    gradient_checkpointing: bool = False
    prompt_template: str = DEFAULT_TEMPLATE
    loss_on: str = "response"
    packing: bool = False

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingHyperparameters:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise HyperparameterError(f"unknown hyperparameters {unknown}; known: {sorted(known)}")
        hyperparameters = cls(**values)
        hyperparameters.validate()
        return hyperparameters

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def requested_quantization(self) -> str:
        """`quantization`, with the seed's `no_4bit=True` meaning "none"."""
        return "none" if self.no_4bit else self.quantization

    @property
    def template(self) -> PromptTemplate:
        return PromptTemplate(self.prompt_template)

    def result_affecting(self) -> dict[str, Any]:
        """The hyperparameters that change the trained weights (what the fingerprint hashes)."""
        values = {k: v for k, v in self.to_dict().items() if k not in NON_RESULT_FIELDS}
        values["quantization"] = self.requested_quantization
        values.pop("no_4bit")
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
        if not self.num_epochs > 0:
            raise HyperparameterError(f"num_epochs must be > 0, got {self.num_epochs!r}")
        if not self.learning_rate > 0:
            raise HyperparameterError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if not 0 <= self.lora_dropout < 1:
            raise HyperparameterError(f"lora_dropout must be in [0, 1), got {self.lora_dropout!r}")
        if not 0 <= self.warmup_ratio < 1:
            raise HyperparameterError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise HyperparameterError(f"max_steps must be -1 (off) or a positive integer, got {self.max_steps}")
        for name in ("max_train_examples", "max_eval_examples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise HyperparameterError(f"{name} must be None (all) or a positive integer, got {value}")
        if self.quantization not in QUANTIZATION_CHOICES:
            raise HyperparameterError(f"quantization must be one of {QUANTIZATION_CHOICES}, got {self.quantization!r}")
        if self.no_4bit and self.quantization in ("4bit", "8bit"):
            raise HyperparameterError(
                f"no_4bit=True contradicts quantization={self.quantization!r}; set only one of them"
            )
        if self.loss_on not in LOSS_ON_CHOICES:
            raise HyperparameterError(f"loss_on must be one of {LOSS_ON_CHOICES}, got {self.loss_on!r}")
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
