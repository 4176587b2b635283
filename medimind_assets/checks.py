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
    "min_rows": f"At least the build's `min_rows` rows (default {DEFAULT_MIN_ROWS}), some of them for training.",
}


def built_min_rows(instance: dg.DagsterInstance) -> int:
    """The `min_rows` the published dataset was built with (its run config, in the `build_options` metadata): the
    check holds the dataset to the threshold it was published under, one threshold for one rule."""
    event = instance.get_latest_materialization_event(dg.AssetKey("dataset"))
    materialization = event.asset_materialization if event else None
    entry = materialization.metadata.get("build_options") if materialization else None
    value = entry.value.get("min_rows") if entry is not None and isinstance(entry.value, dict) else None
    return value if isinstance(value, int) else DEFAULT_MIN_ROWS


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(name=name, asset="dataset", blocking=True, description=_DESCRIPTIONS[name])
        for name in RULE_NAMES
    ]
)
def dataset_checks(context: dg.AssetCheckExecutionContext, settings: MediMindSettings):
    rows = read_dataset(settings.store.dataset)
    test_questions = mediqa.test_questions(settings.raw_path / MEDIQA)
    for outcome in validate_rows(rows, test_questions, built_min_rows(context.instance)):
        yield dg.AssetCheckResult(
            asset_key="dataset",
            check_name=outcome.name,
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=outcome.description,
            metadata={"problems": outcome.count, "examples": dg.MetadataValue.json(outcome.problems)},
        )
