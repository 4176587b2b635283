"""The language-model layer every stage shares (`template`, `encoding`, `artifacts`, `loading`): no Dagster here, and
no torch or transformers at import time. Training, evaluation, merging and `medimind ask` build on it; it imports
none of them.
"""
