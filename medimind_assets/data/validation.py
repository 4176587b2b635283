"""Dataset validation rules. The dataset asset refuses to publish rows that fail them, and the blocking asset
checks run the same rules on the published file, so training never starts on a broken dataset."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from medimind_assets.data.cleaning import compact_key, normalize_key
from medimind_assets.data.overlap import NearTestQuestions
from medimind_assets.data.rows import REQUIRED_TEXT_FIELDS, SOURCES, SPLITS, DatasetError
from medimind_assets.data.safety import SAFETY_LEVELS

DEFAULT_MIN_ROWS = 50
MAX_EXAMPLES = 5


@dataclass
class RuleOutcome:
    name: str
    passed: bool
    description: str
    problems: list[str] = field(default_factory=list)
    count: int = 0


def _outcome(name: str, description: str, problems: list[str]) -> RuleOutcome:
    return RuleOutcome(name, not problems, description, problems[:MAX_EXAMPLES], len(problems))


def check_schema(rows: list[dict]) -> RuleOutcome:
    problems = []
    for n, row in enumerate(rows, start=1):
        for key in REQUIRED_TEXT_FIELDS:
            value = row.get(key)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"row {n} (id={row.get('id')!r}): field {key!r} missing or empty")
        if row.get("source") not in SOURCES:
            problems.append(f"row {n}: unknown source {row.get('source')!r}")
        if row.get("split") not in SPLITS:
            problems.append(f"row {n}: unknown split {row.get('split')!r}")
    return _outcome("schema", "every row has the required non-empty fields, known source and split", problems)


def check_unique(rows: list[dict]) -> RuleOutcome:
    problems, ids, pairs = [], set(), set()
    for row in rows:
        if row.get("id") in ids:
            problems.append(f"duplicate id {row.get('id')!r}")
        ids.add(row.get("id"))
        pair = (normalize_key(row.get("instruction", "")), normalize_key(row.get("response", "")))
        if pair in pairs:
            problems.append(f"duplicate (question, answer) pair: {row.get('instruction', '')[:80]!r}")
        pairs.add(pair)
    return _outcome("unique", "no duplicate ids or (question, answer) pairs", problems)


def check_split_by_question(rows: list[dict]) -> RuleOutcome:
    splits: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        splits[compact_key(row.get("instruction", ""))].add(row.get("split"))
        splits["id:" + str(row.get("question_id"))].add(row.get("split"))
    problems = [f"question {k[:80]!r} in splits {sorted(v)}" for k, v in splits.items() if len(v) > 1]
    return _outcome("split_by_question", "every question (by text and by id) sits in exactly one split", problems)


def check_test_isolation(rows: list[dict], test_questions: Iterable[str]) -> RuleOutcome:
    near = NearTestQuestions(test_questions)
    problems = [
        f"row {row.get('id')!r} in {row.get('split')!r} asks MEDIQA test question {row.get('instruction', '')[:80]!r}"
        for row in rows
        if row.get("split") != "test" and near.match(row.get("instruction", ""))
    ]
    return _outcome("test_isolation", "no MEDIQA 2019 test question outside the test split", problems)


def check_safety_levels(rows: list[dict]) -> RuleOutcome:
    problems = [
        f"row {row.get('id')!r}: safety_level {row.get('safety_level')!r}"
        for row in rows
        if row.get("safety_level") not in SAFETY_LEVELS
    ]
    return _outcome("safety_levels", f"safety_level is one of {', '.join(SAFETY_LEVELS)}", problems)


def check_min_rows(rows: list[dict], min_rows: int) -> RuleOutcome:
    train = sum(1 for row in rows if row.get("split") == "train")
    problems = [f"{len(rows)} rows ({train} train), fewer than the minimum {min_rows}"] if len(rows) < min_rows else []
    if not train:
        problems.append("no train rows")
    return _outcome("min_rows", f"at least {min_rows} rows, some of them in train", problems)


def validate_rows(
    rows: list[dict], test_questions: Iterable[str], min_rows: int = DEFAULT_MIN_ROWS
) -> list[RuleOutcome]:
    return [
        check_schema(rows),
        check_unique(rows),
        check_split_by_question(rows),
        check_test_isolation(rows, test_questions),
        check_safety_levels(rows),
        check_min_rows(rows, min_rows),
    ]


RULE_NAMES = ("schema", "unique", "split_by_question", "test_isolation", "safety_levels", "min_rows")


def refuse_if_invalid(
    path: Path, rows: list[dict], consumer: str = "train", test_questions: Iterable[str] = ()
) -> None:
    """The blocking rules, run again by a consumer on what it is about to read: a file edited after its checks
    passed (test rows copied or moved into train, fields removed) is refused, naming each rule and its rows.
    `test_questions`: the raw MEDIQA test set's questions (`mediqa.test_questions`), which catch a test question
    moved out of the test split; the file's own test rows are always added."""
    test_questions = [*test_questions, *(row["instruction"] for row in rows if row.get("split") == "test")]
    # min_rows is left to the caller, which says "the train split is empty" in so many words.
    outcomes = validate_rows(rows, test_questions, min_rows=1)
    if failed := [o for o in outcomes if not o.passed and o.name != "min_rows"]:
        details = "; ".join(f"{o.name}: {o.count} problem(s), e.g. {'; '.join(o.problems[:2])}" for o in failed)
        raise DatasetError(f"{path} breaks the dataset rules, refusing to {consumer} on it ({details})")
