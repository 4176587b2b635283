"""Print, as JSON, what the Dagster instance at $DAGSTER_HOME knows about some assets: which storages it uses,
each asset's latest materialization (run, data version, input data versions, metadata) and the asset check results
of that materialization; for an observed asset (the raw sources), its latest observation.

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
        latest = _latest(instance, key)
        if latest is None:
            report["assets"][name] = None
            continue
        kind, run_id, event = latest
        tags = dict(event.tags or {})
        run = instance.get_run_by_id(run_id) if run_id else None
        report["assets"][name] = {
            "event": kind,
            "run_id": run_id,
            "run_status": run.status.value if run else None,
            "data_version": tags.get("dagster/data_version"),
            "input_data_versions": {k[len(INPUT_PREFIX) :]: v for k, v in tags.items() if k.startswith(INPUT_PREFIX)},
            "metadata": {label: _plain(entry.value) for label, entry in event.metadata.items()},
            "checks": _checks(instance, key, run_id) if run_id else {},
        }
    return report


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey) -> tuple[str, str, Any] | None:
    """("materialization" | "observation", run id, event): the latest materialization, else the latest observation."""
    materialization = instance.get_latest_materialization_event(key)
    if materialization is not None and materialization.asset_materialization is not None:
        return "materialization", materialization.run_id, materialization.asset_materialization
    records = instance.fetch_observations(key, limit=1).records
    if records and records[0].asset_observation is not None:
        return "observation", records[0].run_id, records[0].asset_observation
    return None


def main(argv: list[str]) -> int:
    with dg.DagsterInstance.get() as instance:
        print(json.dumps(describe(instance, argv), indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
