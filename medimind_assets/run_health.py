"""Runs whose process died: failed, and their `gpu` pool slot freed, so one bad night does not block every night
after it. The local run launcher cannot check its workers' health (docs/operations.md, "Run health"): the
`medimind_dead_runs` sensor finds a STARTED run by the pid its process reported ("Started process for run (pid: N)")
and fails it once that process is gone. Launchers that check their workers themselves are left to do it.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.launcher import DefaultRunLauncher

CHECK_SECONDS = 60


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid the run's process reported when it started, or None when it reported none (yet)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if not (event and (event.message or "").startswith("Started process for run")):
            continue
        pid = event.engine_event_data.metadata.get("pid")
        if pid is not None:
            return int(getattr(pid, "value", pid))
    return None


def process_alive(pid: int) -> bool:
    """Whether `pid` is a live process of this host that is still a Python (Dagster) process: a pid reused by
    another program counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc to tell (not Linux)
    return b"python" in cmdline or b"dagster" in cmdline


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed every started run whose process is gone, freeing its concurrency slots; their ids."""
    failed = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        pid = run_worker_pid(instance, run.run_id)
        if pid is None or process_alive(pid):
            continue
        instance.report_run_failed(
            run,
            f"the process of this run (pid {pid}) is gone without reporting an end (killed?): marked failed, and "
            "its gpu pool slot freed for the next training",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed


@dg.sensor(
    name="medimind_dead_runs",
    minimum_interval_seconds=CHECK_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Fails runs whose process died without reporting (local run launcher) and frees their gpu slot.",
)
def dead_runs_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    if not isinstance(context.instance.run_launcher, DefaultRunLauncher):
        return dg.SkipReason("the run launcher checks its workers' health itself")
    failed = fail_dead_runs(context.instance)
    for run_id in failed:
        context.log.warning(f"run {run_id}: its process died; marked failed and its gpu slot freed")
    return dg.SkipReason(f"{len(failed)} dead run(s) failed" if failed else "every started run has a live process")
