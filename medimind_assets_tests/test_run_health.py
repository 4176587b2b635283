"""A run whose process was killed (kill -9) does not stay STARTED with the gpu slot claimed for ever: the
`medimind_dead_runs` sensor fails it and frees the slot, so the next training can start."""

from __future__ import annotations

import socket
import subprocess
import sys

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
from dagster._core.storage.dagster_run import DagsterRun

from medimind_assets.resources import MediMindSettings
from medimind_assets.run_health import RUN_HOST_TAG, fail_dead_runs, fail_dead_runs_of, run_worker, tag_run_host
from medimind_assets.sensors import dead_runs_sensor


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# The run's process names its pid: a run worker started by the daemon, or `dg launch` running the run itself.
STARTED_BY_WORKER = "Started process for run (pid: {pid})."
RUN_IN_LAUNCH = "Executing steps using multiprocess executor: parent process (pid: {pid})"


def _started_run(
    instance: dg.DagsterInstance, pid: int, message: str = STARTED_BY_WORKER, slots: int = 1
) -> DagsterRun:
    """A run as the local launcher leaves it: STARTED, its process's pid reported, one gpu slot claimed."""
    run = instance.create_run_for_job(dg.GraphDefinition(name="training_run").to_job(), run_id=None)
    instance.handle_run_event(
        run.run_id,
        DagsterEvent(event_type_value=DagsterEventType.RUN_START.value, job_name=run.job_name, message="started"),
    )
    instance.report_engine_event(message.format(pid=pid), run, EngineEventData.in_process(pid))
    instance.event_log_storage.set_concurrency_slots("gpu", slots)
    claim = instance.event_log_storage.claim_concurrency_slot("gpu", run.run_id, "lora_adapter")
    assert claim.is_claimed
    return instance.get_run_by_id(run.run_id)


@pytest.mark.parametrize("message", [STARTED_BY_WORKER, RUN_IN_LAUNCH])
def test_a_killed_run_is_failed_and_its_gpu_slot_freed(message):
    with dg.instance_for_test() as instance:
        dead = _started_run(instance, _dead_pid(), message)
        assert run_worker(instance, dead.run_id) is not None
        waiting = instance.event_log_storage.claim_concurrency_slot("gpu", "next-run", "lora_adapter")
        assert not waiting.is_claimed  # the next training waits behind the dead run
        assert fail_dead_runs(instance) == [dead.run_id]
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.event_log_storage.claim_concurrency_slot("gpu", "next-run", "lora_adapter").is_claimed


def test_a_live_run_is_left_alone():
    with dg.instance_for_test() as instance:
        alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            run = _started_run(instance, alive.pid)
            assert fail_dead_runs(instance) == []
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
            result = dead_runs_sensor(dg.build_sensor_context(instance=instance))
            assert "every started run has a live process" in result.skip_message
        finally:
            alive.kill()


def test_a_pid_taken_by_a_process_started_after_the_run_reported_it_is_no_longer_the_run(monkeypatch):
    """After a restart pids are handed out again in order, often to Python processes: the run is still dead."""
    import time

    from medimind_assets import orphans

    with dg.instance_for_test() as instance:
        alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            run = _started_run(instance, alive.pid)
            assert fail_dead_runs(instance) == []  # started before the run reported it: the run's own process
            monkeypatch.setattr(orphans, "process_start_time", lambda pid: time.time() + 3600)
            assert fail_dead_runs(instance) == [run.run_id]
        finally:
            alive.kill()


def test_the_start_time_of_a_process_is_when_it_started():
    import os
    import time

    from medimind_assets.orphans import process_alive, process_start_time

    assert abs(process_start_time(os.getpid()) - time.time()) < 3600
    assert process_alive(os.getpid(), started_by=time.time())
    assert process_alive(os.getpid(), started_by=time.time() - 60)  # a clock stepped a minute: still the run's
    assert not process_alive(os.getpid(), started_by=time.time() - 7 * 24 * 3600)


def test_another_machines_run_is_left_to_that_machine():
    """An instance shared by two machines: a pid of the other machine says nothing about this one's processes."""
    with dg.instance_for_test() as instance:
        there = _started_run(instance, _dead_pid(), slots=2)
        instance.add_run_tags(there.run_id, {RUN_HOST_TAG: "gpu-node-7"})
        here = _started_run(instance, _dead_pid(), slots=2)
        tag_run_host(instance, here.run_id)
        assert instance.get_run_by_id(here.run_id).tags[RUN_HOST_TAG] == socket.gethostname()
        assert fail_dead_runs(instance) == [here.run_id]
        assert instance.get_run_by_id(there.run_id).status == dg.DagsterRunStatus.STARTED


def test_a_run_is_tagged_with_the_machine_its_steps_run_on(tmp_path):
    @dg.asset
    def probe(settings: MediMindSettings) -> None:
        pass

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [probe], resources={"settings": MediMindSettings(data_dir=str(tmp_path))}, instance=instance
        )
        assert instance.get_run_by_id(result.run_id).tags[RUN_HOST_TAG] == socket.gethostname()


def test_medimind_launch_fails_the_dead_runs_of_its_instance_first(tmp_path):
    (tmp_path / "dagster.yaml").write_text("{}\n")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        dead = _started_run(instance, _dead_pid(), RUN_IN_LAUNCH)
    assert fail_dead_runs_of(tmp_path) == [f"run {dead.run_id}: its process is gone; marked failed, its gpu slot freed"]
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert fail_dead_runs_of(tmp_path) == []


def test_a_failed_run_is_logged_with_its_reason_not_only_the_step():
    import dagster as dg

    from medimind_assets.sensors import _why

    @dg.asset
    def raises() -> None:
        raise ValueError("No current base model: materialize the `base_model` asset first")

    @dg.asset
    def fails() -> None:
        raise dg.Failure(description="train_lora failed: ValueError: no linear module named 'o_proj'")

    for asset, says in [(raises, "raises: ValueError: No current base model"), (fails, "fails: train_lora failed")]:
        result = dg.materialize([asset], raise_on_error=False)
        [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert _why(failure).startswith(says), _why(failure)


def test_an_untagged_run_of_a_shared_instance_is_left_alone(monkeypatch):
    """Before its first step starts (waiting for a gpu slot, say) a run has a pid but no host tag yet: on an
    instance several machines may share (PostgreSQL), nobody can tell whose pid it is."""
    import medimind_assets.run_health as run_health

    with dg.instance_for_test() as instance:
        waiting = _started_run(instance, _dead_pid())
        monkeypatch.setattr(run_health, "SqliteRunStorage", type("OnlySqlite", (), {}))  # as if not SQLite
        assert fail_dead_runs(instance) == []
        monkeypatch.undo()
        assert fail_dead_runs(instance) == [waiting.run_id]  # SQLite: one machine, its own pid
