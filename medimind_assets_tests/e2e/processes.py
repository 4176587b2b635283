"""Background services for the end-to-end tests: start them in their own process group, stop every process.

Each service gets a unique marker in its environment. Processes that leave the group (a daemonised worker) still
inherit the environment, so the marker finds them when the group is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

MARKER_VARIABLE = "MEDIMIND_E2E_SERVICE"
T = TypeVar("T")


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _default_signals() -> None:
    # A shell without job control starts background jobs with SIGINT ignored, and Dagster maps SIGTERM onto the
    # SIGINT handler: restore both so the service can be asked to shut down cleanly.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log_path: Path
    marker: str

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def ensure_running(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with code {self.process.returncode}; last log lines:\n{self.log_tail()}"
            )


def start_service(name: str, command: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path) -> Service:
    marker = f"{name}-{uuid.uuid4().hex}"
    log = open(log_path, "wb")  # noqa: SIM115 - the child keeps writing to it after this returns
    try:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env={**env, MARKER_VARIABLE: marker},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_signals,
        )
    finally:
        log.close()
    return Service(name=name, process=process, log_path=log_path, marker=marker)


def _marked_pids(marker: str) -> list[int]:
    needle = f"{MARKER_VARIABLE}={marker}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
    return pids


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_service(service: Service, grace_seconds: float = 20.0) -> None:
    """SIGTERM the process group, wait, then SIGKILL the group and any stray process carrying the marker."""
    pgid = service.process.pid  # start_new_session: the leader's pid is the group id
    _signal_group(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        service.process.wait(timeout=grace_seconds)
    _signal_group(pgid, signal.SIGKILL)
    for pid in _marked_pids(service.marker):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        service.process.wait(timeout=10)


@contextlib.contextmanager
def running_service(
    name: str, command: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path
) -> Iterator[Service]:
    service = start_service(name, command, cwd=cwd, env=env, log_path=log_path)
    try:
        yield service
    finally:
        stop_service(service)


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.5,
    service: Service | None = None,
) -> T:
    """Call `probe` until it returns something other than None; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if service is not None:
            service.ensure_running()
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            tail = f"; last log lines of {service.name}:\n{service.log_tail()}" if service else ""
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")
        time.sleep(interval)
