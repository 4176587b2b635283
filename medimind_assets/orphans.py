"""Heavy processes (training, evaluation, merging) stop when the process that launched them dies, or the run's
worker (docs/operations.md, "Run health"): an orphaned trainer once kept training and published an adapter while its
run showed FAILURE, and the retry trained the same fingerprint beside it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

POLL_SECONDS = 1.0
EXIT_CODE = 3
# A wall-clock step (a VM resumed, NTP) moves the start times read from /proc against the recorded ones: a process
# counts as later only past this margin, so a live run is never failed by a clock step smaller than it.
CLOCK_SLACK_S = 120.0
RUN_WORKER_PID = "RUN_WORKER_PID"  # set by the subprocess launcher: the pid of the Dagster run's worker


def process_alive(pid: int, started_by: float | None = None) -> bool:
    """Whether `pid` is a live process of this host that is still a Python (Dagster) process: a pid reused by
    another program counts as gone. With `started_by` (a Unix time the process was known to run at), a process
    that started after it is another one that got the pid (after a restart, pids are handed out again in order)."""
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
    if (
        started_by is not None
        and (started := process_start_time(pid)) is not None
        and started > started_by + CLOCK_SLACK_S
    ):
        return False
    return b"python" in cmdline or b"dagster" in cmdline


def process_start_time(pid: int) -> float | None:
    """When `pid` started, as a Unix time (Linux's /proc), or None where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(line for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, after the command name in parentheses
        return int(boot.split()[1]) + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def exit_with_parent(poll_seconds: float = POLL_SECONDS) -> threading.Thread:
    """Watch from a daemon thread (returned) and end this process, exit code 3, once its parent is gone (its parent
    pid changed: it was re-parented) or the run's worker named in `RUN_WORKER_PID` is: a retry of the run must not
    train beside it."""
    parent = os.getppid()
    worker = int(os.environ[RUN_WORKER_PID]) if os.environ.get(RUN_WORKER_PID, "").isdigit() else None

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent:
                gone = f"the process that launched this one (pid {parent})"
            elif worker is not None and not process_alive(worker):
                gone = f"the run's worker (pid {worker})"
            else:
                continue
            print(f"{gone} is gone: stopping (pid {os.getpid()})", file=sys.stderr, flush=True)
            os._exit(EXIT_CODE)

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread
