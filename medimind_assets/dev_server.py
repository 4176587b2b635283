"""`medimind dev`: `dg dev` (webserver, daemon, code server) that stops with everything it started.

`dg dev` runs in a process group of its own. Ctrl-C or SIGTERM to this process, or the end of the process that
started it (`make dev` killed by a signal make does not forward), interrupts the whole group as Ctrl-C does
(Dagster's clean shutdown), then terminates and finally kills whatever is left after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

GRACE_SECONDS = 20.0  # for Dagster's own shutdown (the daemon finishes its tick, the webserver closes)
TERMINATE_SECONDS = 5.0


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def stop_group(process: subprocess.Popen) -> int:
    """Interrupt the group, then terminate it, then kill it, each after a wait; the child's exit code."""
    for sig, wait in ((signal.SIGINT, GRACE_SECONDS), (signal.SIGTERM, TERMINATE_SECONDS), (signal.SIGKILL, 5.0)):
        _signal_group(process, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait)
            break
    # Children of the group that outlived the leader (a code server mid-start) go too.
    _signal_group(process, signal.SIGKILL)
    return process.returncode if process.returncode is not None else -signal.SIGKILL


def run_dev_server(command: Sequence[str], env: Mapping[str, str], cwd: Path) -> int:
    """Run `command` until it ends, this process is told to stop, or its parent goes away."""
    process = subprocess.Popen(list(command), env=dict(env), cwd=cwd, start_new_session=True)
    stopping: list[int] = []  # the signals received
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, lambda got, _: stopping.append(got)) for sig in signals}
    parent = os.getppid()
    try:
        while process.poll() is None:
            if stopping or os.getppid() != parent:
                stop_group(process)
                return 0
            time.sleep(0.5)
        return process.returncode
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if process.poll() is None:
            stop_group(process)
