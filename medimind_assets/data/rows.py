"""The `dataset.jsonl` contract, used by every stage: one row type, the splits and sources, one reader, one writer
and one selector. The build writes these rows; the checks, training and evaluation read them through here.
(What makes a set of rows valid as a whole, the blocking rules, is `data/validation.py`.)
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypedDict

from medimind_assets.atomic import atomic_write_jsonl
from medimind_assets.errors import MediMindError

SPLITS = ("train", "validation", "test")
SOURCES = ("mediqa_qa", "medquad")
# Non-empty strings in every row (the schema rule checks them all).
REQUIRED_TEXT_FIELDS = ("id", "question_id", "instruction", "response", "source", "safety_level", "split")
# What the reader insists on for any row (training and evaluation read nothing else without these).
REQUIRED_KEYS = ("id", "instruction", "response", "split")


class DatasetRow(TypedDict):
    id: str  # stable: a hash of source, normalised question and answer
    question_id: str  # `mediqa_qa:<file tag>:<QID>` or `medquad:<collection>/<file>:<qid>`
    instruction: str  # the question
    response: str  # the answer
    source: str  # one of SOURCES
    safety_level: str  # safe, caution or emergency (data/safety.py)
    split: str  # one of SPLITS; all answers of a question share one
    answer_id: str
    reference_score: int | None  # MEDIQA's ReferenceScore (3 or 4); None for MedQuAD
    origin: str  # the raw file the row came from, relative to MEDIMIND_RAW_DIR


class DatasetError(MediMindError, ValueError):
    """dataset.jsonl is missing or malformed, or has nothing to train on; the message names the file."""


def write_dataset(path: Path, rows: Iterable[DatasetRow]) -> None:
    """Write the rows atomically (a failed write leaves the previous file exactly as it was)."""
    atomic_write_jsonl(Path(path), rows)


def read_dataset(path: Path) -> list[DatasetRow]:
    """Every row of `path`, each checked for the keys every reader needs (errors name the file and line)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"dataset not found: {path} (materialize the `dataset` asset first)")
    rows: list[DatasetRow] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DatasetError(f"{path}:{number}: not valid JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            if missing := [key for key in REQUIRED_KEYS if key not in row]:
                raise DatasetError(f"{path}:{number}: row has no {', '.join(missing)}")
            if row["split"] not in SPLITS:
                raise DatasetError(f"{path}:{number}: split {row['split']!r} is not one of {SPLITS}")
            for key in ("instruction", "response"):
                if not isinstance(row[key], str) or not row[key].strip():
                    raise DatasetError(f"{path}:{number}: {key} must be a non-empty string")
            rows.append(row)
    return rows


def split_counts(rows: list[DatasetRow]) -> dict[str, int]:
    counts = Counter(row["split"] for row in rows)
    return {split: counts.get(split, 0) for split in SPLITS}


def select(
    rows: list[DatasetRow], split: str, limit: int | None = None, seed: int = 0, sources: Sequence[str] | None = None
) -> list[DatasetRow]:
    """The rows of `split` (of `sources` only, when given); with `limit`, a seeded random subset of that size
    kept in file order."""
    chosen = [row for row in rows if row["split"] == split and (sources is None or row["source"] in sources)]
    if limit is not None and limit < len(chosen):
        keep = sorted(random.Random(seed).sample(range(len(chosen)), limit))
        chosen = [chosen[i] for i in keep]
    return chosen
