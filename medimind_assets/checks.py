"""Asset checks. The dataset checks are blocking: a failure stops training from starting on bad data."""

import dagster as dg

from medimind_assets.data import mediqa
from medimind_assets.data.rows import read_dataset
from medimind_assets.data.sources import MEDIQA
from medimind_assets.data.validation import DEFAULT_MIN_ROWS, RULE_NAMES, validate_rows
from medimind_assets.resources import MediMindSettings

_DESCRIPTIONS = {
    "schema": "Every row has non-empty instruction, response, ids, known source, split and safety level.",
    "unique": "No duplicate ids and no duplicate (question, answer) pairs.",
    "split_by_question": "All answers of a question sit in one split.",
    "test_isolation": "No MEDIQA 2019 test question appears outside the test split.",
    "safety_levels": "safety_level is safe, caution or emergency.",
    "min_rows": f"At least {DEFAULT_MIN_ROWS} rows, some of them for training.",
}


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(name=name, asset="dataset", blocking=True, description=_DESCRIPTIONS[name])
        for name in RULE_NAMES
    ]
)
def dataset_checks(settings: MediMindSettings):
    rows = read_dataset(settings.dataset_path)
    for outcome in validate_rows(rows, mediqa.test_questions(settings.raw_path / MEDIQA)):
        yield dg.AssetCheckResult(
            asset_key="dataset",
            check_name=outcome.name,
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=outcome.description,
            metadata={"problems": outcome.count, "examples": dg.MetadataValue.json(outcome.problems)},
        )
