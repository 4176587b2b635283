"""Serving: answering questions with what the pipeline produced, the way the serving backend prompts the model.

- `ask`: what `medimind ask` runs: the base model, the promoted adapter, a given adapter or the merged model,
  found from the pipeline's pointers under the data directory, each answering greedily.
"""
