"""Print, as JSON, what the Dagster instance at $DAGSTER_HOME knows about some assets: which storages it uses,
each asset's latest materialization (run, data version, input data versions, metadata) and the asset check results
of that materialization.

Run in its own process (`python -m medimind_assets_tests.e2e.read_lineage dataset raw_medquad ...`), so the
reader shares nothing with the process that wrote the events but the storage.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import dagster as dg

INPUT_PREFIX = "dagster/input_data_version/"


def _plain(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


def _checks(instance: dg.DagsterInstance, key: dg.AssetKey, run_id: str) -> dict[str, bool]:
    """Check name -> passed, for the checks on `key` evaluated in `run_id` (from the run's event log)."""
    results = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.event_specific_data
        if evaluation.asset_key == key:
            results[evaluation.check_name] = evaluation.passed
    return results


def describe(instance: dg.DagsterInstance, keys: list[str]) -> dict[str, Any]:
    report: dict[str, Any] = {
        "storage": {
            "runs": type(instance.run_storage).__name__,
            "event_log": type(instance.event_log_storage).__name__,
            "schedules": type(instance.schedule_storage).__name__,
        },
        "default_pool_limit": instance.get_concurrency_config().pool_config.default_pool_limit,
        "assets": {},
    }
    for name in keys:
        key = dg.AssetKey(name)
        event = instance.get_latest_materialization_event(key)
        if event is None or event.asset_materialization is None:
            report["assets"][name] = None
            continue
        materialization = event.asset_materialization
        tags = dict(materialization.tags or {})
        run = instance.get_run_by_id(event.run_id)
        report["assets"][name] = {
            "run_id": event.run_id,
            "run_status": run.status.value if run else None,
            "data_version": tags.get("dagster/data_version"),
            "input_data_versions": {k[len(INPUT_PREFIX) :]: v for k, v in tags.items() if k.startswith(INPUT_PREFIX)},
            "metadata": {label: _plain(entry.value) for label, entry in materialization.metadata.items()},
            "checks": _checks(instance, key, event.run_id),
        }
    return report


def main(argv: list[str]) -> int:
    with dg.DagsterInstance.get() as instance:
        print(json.dumps(describe(instance, argv), indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
