"""Serving: answering questions with what the pipeline produced, the way the serving backend prompts the model:
`medimind ask` (`ask`) and `medimind serve` (`holder`, `chat`, `worker`, `server`; docs/serving.md).
"""
