"""Merging: the promoted LoRA adapter folded into full-precision base weights (`merge`), and the proof it changed
nothing; `merge_lora` is the process the `merged_model` asset launches through Dagster Pipes.
"""
