"""The language-model layer every stage shares: no Dagster here, and no torch or transformers at import time.

- `template`: the prompt template (what the model is given, what it is scored or trained on).
- `encoding`: the one encoding of prompt + response into token ids and labels.
- `artifacts`: model and adapter folders checked before anything loads them.
- `loading`: the tokenizer, the base model for inference or for training, a LoRA adapter on top.

Training, evaluation, merging and `medimind ask` build on it; it imports none of them.
"""
