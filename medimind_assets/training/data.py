"""`dataset.jsonl` as a `datasets.Dataset`, tokenised once per data version (docs/training.md#data).

The file is read with the row contract's schema (`data.rows.DatasetRow`, the one definition of a row), a split is
chosen as `data.rows.select` chooses it, and rows are encoded by `llm.encoding` (the one encoding of prompt +
response, shared with evaluation) into an Arrow file named by everything the tokens depend on.
"""

from __future__ import annotations

import hashlib
import json
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from medimind_assets.data.rows import DatasetRow, select
from medimind_assets.llm.encoding import EncodedExample, encode_batch
from medimind_assets.llm.template import PromptTemplate
from medimind_assets.quiet import no_progress_bars

if TYPE_CHECKING:
    import datasets


def row_features() -> datasets.Features:
    """The Arrow schema of a `DatasetRow`: its text fields as strings, `reference_score` as a nullable integer."""
    import datasets

    return datasets.Features(
        {
            name: datasets.Value("string" if hint is str else "int64")
            for name, hint in typing.get_type_hints(DatasetRow).items()
        }
    )


def load_rows(path: Path, cache_dir: Path) -> datasets.Dataset:
    """Every row of `path` (already validated by `data.rows.read_dataset`), memory-mapped from `cache_dir`."""
    import datasets

    from medimind_assets.atomic import naming_the_os_error

    cache = Path(cache_dir) / "json"
    try:
        with no_progress_bars():
            return datasets.Dataset.from_json(str(path), features=row_features(), cache_dir=str(cache))
    except Exception as exc:  # datasets wraps a full disk in "An error occurred while generating the dataset"
        if (named := naming_the_os_error(exc, cache)) is not None:
            raise named from exc
        raise


def select_split(
    rows: datasets.Dataset, split: str, limit: int | None, seed: int, sources: list[str] | None
) -> datasets.Dataset:
    """The rows `data.rows.select` would choose, in the same order."""
    index = [
        {"split": split_, "source": source, "index": i}
        for i, (split_, source) in enumerate(zip(rows["split"], rows["source"], strict=True))
    ]
    return rows.select([row["index"] for row in select(index, split, limit, seed, sources)])


def tokenizer_digest(tokenizer) -> str:
    """Identifies the tokenizer's vocabulary and rules (its serialised fast tokenizer), and its EOS."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    text = backend.to_str() if backend is not None else json.dumps(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(f"{text}\x1f{tokenizer.eos_token_id}".encode()).hexdigest()


def encode_rows(
    tokenizer, rows: Sequence[dict], template: PromptTemplate, max_length: int, loss_on: str = "response"
) -> list[EncodedExample]:
    """Rows (`instruction`, `response`) under training's one budget: prompt + response + EOS fit in `max_length`,
    and a prompt longer than half of it keeps its end, so the response always has at least half."""
    return encode_batch(
        tokenizer,
        [template.prompt(r["instruction"]) for r in rows],
        [template.completion(r["response"]) for r in rows],
        max_length=max_length,
        max_prompt_tokens=max_length // 2,
        loss_on=loss_on,
    )


def tokenize(
    rows: datasets.Dataset,
    tokenizer,
    template: PromptTemplate,
    max_length: int,
    loss_on: str,
    cache_dir: Path,
    key: dict,
) -> tuple[datasets.Dataset, bool]:
    """`rows` encoded for training (`input_ids`, `labels`, `length`, `truncated`, `prompt_cut`); returns it and
    whether it came from the cache. `key` names the rows (data version and selection)."""
    identity = {
        **key,
        "rows": len(rows),
        "tokenizer": tokenizer_digest(tokenizer),
        "template": template.text,
        "max_length": max_length,
        "loss_on": loss_on,
    }
    fingerprint = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]
    cache_file = Path(cache_dir) / "tokenized" / f"{fingerprint}.arrow"
    cached = cache_file.is_file()
    cache_file.parent.mkdir(parents=True, exist_ok=True)

    def encode(batch: dict[str, list]) -> dict[str, list]:
        pairs = [
            {"instruction": q, "response": a} for q, a in zip(batch["instruction"], batch["response"], strict=True)
        ]
        examples = encode_rows(tokenizer, pairs, template, max_length, loss_on)
        return {
            "input_ids": [e.input_ids for e in examples],
            "labels": [e.labels for e in examples],
            "length": [len(e) for e in examples],
            "truncated": [e.truncated for e in examples],
            "prompt_cut": [e.prompt_cut for e in examples],
        }

    with no_progress_bars():
        encoded = rows.map(
            encode,
            batched=True,
            remove_columns=rows.column_names,
            cache_file_name=str(cache_file),
            new_fingerprint=fingerprint,
            load_from_cache_file=True,
        )
    return encoded, cached
