"""Read the rows training needs from `dataset.jsonl` (no torch here)."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

SPLITS = ("train", "validation", "test")
REQUIRED_KEYS = ("id", "instruction", "response", "split")


class DatasetError(ValueError):
    """dataset.jsonl is missing or malformed, or has nothing to train on; the message names the file."""


def read_rows(path: Path) -> list[dict]:
    """Every row of `path`, checked for the keys training uses (error names file and line)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"dataset not found: {path} (materialize the `dataset` asset first)")
    rows: list[dict] = []
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
            missing = [key for key in REQUIRED_KEYS if key not in row]
            if missing:
                raise DatasetError(f"{path}:{number}: row has no {', '.join(missing)}")
            if row["split"] not in SPLITS:
                raise DatasetError(f"{path}:{number}: split {row['split']!r} is not one of {SPLITS}")
            for key in ("instruction", "response"):
                if not isinstance(row[key], str) or not row[key].strip():
                    raise DatasetError(f"{path}:{number}: {key} must be a non-empty string")
            rows.append(row)
    return rows


def split_counts(rows: list[dict]) -> dict[str, int]:
    counts = Counter(row["split"] for row in rows)
    return {split: counts.get(split, 0) for split in SPLITS}


def count_rows(path: Path) -> dict[str, int]:
    """Rows per split of `path`."""
    return split_counts(read_rows(path))


def select(rows: list[dict], split: str, limit: int | None, seed: int) -> list[dict]:
    """The rows of `split`; with `limit`, a seeded random subset of that size kept in file order."""
    chosen = [row for row in rows if row["split"] == split]
    if limit is not None and limit < len(chosen):
        keep = sorted(random.Random(seed).sample(range(len(chosen)), limit))
        chosen = [chosen[i] for i in keep]
    return chosen


def check_rules(path: Path, rows: list[dict]) -> None:
    """The dataset's blocking-check rules, run again on what training is about to read: a file edited after its
    checks passed (test rows copied into train, fields removed) is refused, naming each rule and its rows."""
    from medimind_assets.data.validation import validate_rows

    test_questions = [row["instruction"] for row in rows if row.get("split") == "test"]
    # min_rows is left to the caller, which says "the train split is empty" in so many words.
    outcomes = validate_rows(rows, test_questions, min_rows=1)
    failed = [o for o in outcomes if not o.passed and o.name != "min_rows"]
    if failed:
        details = "; ".join(f"{o.name}: {o.count} problem(s), e.g. {'; '.join(o.problems[:2])}" for o in failed)
        raise DatasetError(f"{path} breaks the dataset rules, refusing to train on it ({details})")
