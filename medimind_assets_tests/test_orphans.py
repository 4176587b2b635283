"""A heavy process launched by a step stops when that step's process dies (kill -9), instead of training on and
publishing while the run shows FAILURE."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from medimind_assets.resources import PythonJob, SubprocessLauncher

CHILD = """
import time
from medimind_assets.orphans import exit_with_parent
exit_with_parent(poll_seconds=0.2)
print("child running", flush=True)
time.sleep(60)
"""
PARENT = f"""
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", {CHILD!r}])
print(child.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    state = stat.read_text().split()[2] if stat.exists() else "X"
    return state != "Z"  # a zombie has exited


def test_the_child_exits_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    time.sleep(1.0)
    assert _alive(child_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(child_pid), "the orphaned child kept running"


def test_the_scripts_watch_their_parent():
    import medimind_assets

    root = Path(medimind_assets.__file__).parent
    # run_script is the shared entry point of the Pipes processes; it starts the watcher before any work
    assert "exit_with_parent()" in (root / "pipes_scripts.py").read_text()
    for script in ("training/train_lora.py", "evaluation/evaluate_lora.py", "merging/merge_lora.py"):
        text = (root / script).read_text()
        assert "exit_with_parent()" in text or "run_script(" in text, script


def test_the_child_exits_when_the_run_worker_dies_though_its_parent_lives():
    """The worker (here a sleeping process) killed while the step process (this test) lives on."""
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    env = {**os.environ, "RUN_WORKER_PID": str(worker.pid)}
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout.readline().strip() == b"child running"
    time.sleep(0.5)
    assert child.poll() is None
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert child.wait(10) == 3
    assert f"the run's worker (pid {worker.pid}) is gone" in child.stderr.read().decode()


def test_the_subprocess_launcher_names_the_run_worker_to_the_job(tmp_path, monkeypatch):
    captured: dict = {}

    def run(self, **kwargs):
        captured.update(kwargs["env"])
        raise RuntimeError("stop before launching")

    monkeypatch.setattr(dg.PipesSubprocessClient, "run", run)

    @dg.asset
    def echo(context, launcher: SubprocessLauncher) -> None:
        with pytest.raises(RuntimeError, match="stop before launching"):
            launcher._launch(context, PythonJob("medimind_assets.training.request", {}, data_dir=tmp_path))

    with dg.instance_for_test() as instance:
        assert dg.materialize([echo], resources={"launcher": SubprocessLauncher()}, instance=instance).success
    assert captured["RUN_WORKER_PID"] == str(os.getpid())  # in-process execution: the run's own process
