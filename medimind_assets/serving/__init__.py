"""Serving: answering questions with what the pipeline produced, the way the serving backend prompts the model.

- `ask`: what `medimind ask` runs: the base model, the promoted adapter, a given adapter or the merged model,
  found from the pipeline's pointers under the data directory, each answering greedily.
- `holder`: what `medimind serve` serves (LORA_MODEL_PATH, else the promoted adapter, else the base alone), loaded
  once and verified, and swapped when a new promotion has loaded.
- `chat`: a conversation folded into the trained prompt format within a token budget (no torch).
- `worker`: the queue that answers requests one batch at a time, each answer with its question's safety notice.
- `server`: the FastAPI app (`POST /api/v1/chat`, `GET /api/v1/health`) and running it on uvicorn.
"""
