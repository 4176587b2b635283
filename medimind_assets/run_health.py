"""Runs whose process died: failed, and their `gpu` pool slot freed, so one bad night does not block every night
after it (docs/operations.md, "Run health"). Only for the local run launcher: the others check their workers.
"""

from __future__ import annotations

import socket
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.storage.runs import SqliteRunStorage

from medimind_assets.orphans import process_alive

# The machine a run's steps run on (set by the settings resource as a step starts): a pid names a process of that
# machine only, so only there can a run be judged dead (instances shared by several machines, deploy/dagster.yaml).
RUN_HOST_TAG = "medimind/host"


def tag_run_host(instance: dg.DagsterInstance, run_id: str) -> None:
    run = instance.get_run_by_id(run_id)
    if run is not None and RUN_HOST_TAG not in run.tags:
        instance.add_run_tags(run_id, {RUN_HOST_TAG: socket.gethostname()})


def run_worker(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, when it was reported) of the run's own process, or None when it reported none (yet): the first engine
    event with one, "Started process for run" from a run worker, or the executor's "parent process" where
    `dg launch` runs the run itself."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT).records
    for record in records:
        event = record.event_log_entry.dagster_event
        pid = event.engine_event_data.metadata.get("pid") if event and event.engine_event_data else None
        if pid is not None:
            return int(getattr(pid, "value", pid)), record.event_log_entry.timestamp
    return None


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed every started run of this machine whose process is gone, freeing its concurrency slots; their
    ids. Another machine's runs are left to that machine's sensor or `medimind launch`."""
    failed = []
    # A run not tagged yet (its first step has not started: waiting for a gpu slot, say) is judged only where the
    # instance cannot be shared: a SQLite instance lives on one machine; a PostgreSQL one may serve several.
    untagged = socket.gethostname() if isinstance(instance.run_storage, SqliteRunStorage) else None
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        if run.tags.get(RUN_HOST_TAG, untagged) != socket.gethostname():
            continue
        worker = run_worker(instance, run.run_id)
        if worker is None or process_alive(*worker):  # a process started after the run reported it is another
            continue
        instance.report_run_failed(
            run,
            f"the process of this run (pid {worker[0]}) is gone without reporting an end (killed?): marked failed, and "
            "its gpu pool slot freed for the next training",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed


def uses_local_launcher(instance: dg.DagsterInstance) -> bool:
    """The local run launcher, which cannot tell a dead worker (a Kubernetes or Docker launcher can)."""
    return isinstance(instance.run_launcher, DefaultRunLauncher)


def fail_dead_runs_of(home: Path) -> list[str]:
    """Before `medimind launch`: fail the dead runs of the instance at `home` (a killed `medimind launch` leaves its
    run STARTED, holding the gpu slot the next training would wait on in silence); a line for each."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        if not uses_local_launcher(instance):
            return []
        return [
            f"run {run_id}: its process is gone; marked failed, its gpu slot freed"
            for run_id in fail_dead_runs(instance)
        ]
