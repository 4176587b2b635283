"""The adapter's model card (`README.md` in its folder), in place of PEFT's empty template: what it was trained
from and how, what it measured, its licence and how to load it."""

from __future__ import annotations

from typing import Any

from medimind_assets.evaluation.generation import DEFAULT_REPETITION_PENALTY

LICENCE_NOTE = (
    "The adapter inherits the terms of its base model and of its training data: MedQuAD is CC BY 4.0; "
    "MEDIQA 2019 states no licence. Not medical advice."
)


def _preference(summary: dict[str, Any]) -> str:
    preference = summary.get("preference")
    if not preference:
        return ""
    pairs = preference.get("pairs", {})
    return (
        f"\n\nAfter supervised fine-tuning (trl's SFTTrainer), tuned with trl's DPOTrainer on {pairs.get('pairs')} "
        f"(question, correct answer, incorrect answer) pairs of {pairs.get('questions')} MEDIQA 2019 training "
        "questions, the answers as the 2019 annotators judged them."
    )


def _trained_on(dataset: dict[str, Any]) -> str:
    """What the adapter saw: the examples trained and validated on (a subset with `max_train_examples`, or of
    `sources`), and the dataset's own split sizes when they differ."""
    counts = dataset.get("row_counts") or {}
    used = (
        dataset.get("train_examples", counts.get("train", "?")),
        dataset.get("validation_examples", counts.get("validation", "?")),
    )
    text = f"{used[0]} train / {used[1]} validation examples"
    if used != (counts.get("train"), counts.get("validation")):
        text += f" of its {counts.get('train', '?')} train / {counts.get('validation', '?')} validation rows"
    return text


def _eos_note(dataset: dict[str, Any], max_length: object) -> str:
    cut = dataset.get("train_examples_truncated") or 0
    if not cut:
        return "every response ends with EOS"
    return f"every response ends with EOS, except the {cut} cut at max_length={max_length}, which get none"


def model_card(summary: dict[str, Any]) -> str:
    base = summary.get("base_model") or {}
    dataset = summary.get("dataset") or {}
    metrics = summary.get("metrics") or {}
    hp = summary.get("hyperparameters") or {}

    def number(value: object) -> str:
        return f"{value:.4g}" if isinstance(value, int | float) else "n/a"

    rows = "\n".join(f"| `{key}` | `{value}` |" for key, value in sorted(hp.items()) if key != "prompt_template")
    return f"""---
library_name: peft
base_model: {base.get("name")}
tags: [lora, medical, medimind]
---

# MediMind LoRA adapter `{str(summary.get("fingerprint"))[:12]}`

A LoRA adapter for **{base.get("name")}** (revision `{base.get("revision")}`, weights `{str(base.get("content_hash"))[:12]}`),
trained by the MediMind pipeline on `dataset.jsonl` version `{str(dataset.get("data_version"))[:12]}`
({_trained_on(dataset)}; the MEDIQA 2019 test set is held out and never trained on).

| metric | value |
| --- | --- |
| final train loss | {number(metrics.get("final_train_loss"))} |
| final validation loss (per response token) | {number(metrics.get("final_validation_loss"))} |
| optimizer steps | {metrics.get("global_step", "n/a")} |
| tokens trained | {metrics.get("tokens_trained", "n/a")} |
| trainable parameters | {metrics.get("trainable_parameters", "n/a")} |

Prompt format: `{summary.get("prompt_template", "")!r}` (the prompt is masked out of the loss by default;
{_eos_note(dataset, hp.get("max_length"))}).{_preference(summary)}

## Load it

```python
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

base = AutoModelForCausalLM.from_pretrained("{base.get("path") or base.get("name")}")
model = PeftModel.from_pretrained(base, "<this folder>")
tokenizer = AutoTokenizer.from_pretrained("<this folder>")
```

MediMind evaluates it and answers with it (`medimind ask`) greedily, with a repetition penalty of
{DEFAULT_REPETITION_PENALTY} on the tokens the answer already holds; the closest plain transformers call is
`model.generate(**inputs, do_sample=False, repetition_penalty={DEFAULT_REPETITION_PENALTY})`, which also penalises the
prompt's tokens. Plain greedy decoding lets a small model loop.

Before use, `training_summary.json` records the sha256 of `adapter_config.json` and
`adapter_model.safetensors`; MediMind verifies them whenever it loads the adapter.

## Hyperparameters

| name | value |
| --- | --- |
{rows}

## Licence

{LICENCE_NOTE}
"""
