"""Merging: the promoted LoRA adapter folded into full-precision base weights, and the proof it changed nothing.

- `merge`: the merge, saved atomically as safetensors + tokenizer, and the logit comparison that proves it.
- `merge_lora`: the process the `merged_model` asset launches through Dagster Pipes (`python -m ...merge_lora`).
"""
