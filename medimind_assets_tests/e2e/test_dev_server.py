"""`medimind dev` (what `make dev` runs): starts without alarming warnings and stops every process it started
on SIGTERM or Ctrl-C sent to it alone, as an operator's `kill` or a terminal would."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest
import requests

from medimind_assets_tests.e2e.environment import (
    PROJECT_ROOT,
    ROOT_INSTANCE_CONFIG,
    pipeline_env,
    write_instance_config,
)
from medimind_assets_tests.e2e.processes import _marked_pids, free_port, running_service, wait_until

pytestmark = pytest.mark.e2e
STARTUP_TIMEOUT_S = 240
STOP_TIMEOUT_S = 45


def _answers(url: str) -> bool | None:
    try:
        return True if requests.get(f"{url}/server_info", timeout=2).ok else None
    except requests.RequestException:
        return None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_dev_starts_quietly_and_stops_everything_it_started(tmp_path: Path, sig: signal.Signals) -> None:
    home = tmp_path / "dagster_home"
    write_instance_config(home, ROOT_INSTANCE_CONFIG, nux={"enabled": False}, telemetry={"enabled": False})
    port = free_port()
    command = [sys.executable, "-m", "medimind_assets.cli", "dev", "--host", "127.0.0.1", "--port", str(port)]
    env = pipeline_env(tmp_path / "data", home)
    with running_service("medimind-dev", command, cwd=PROJECT_ROOT, env=env, log_path=tmp_path / "dev.log") as svc:
        wait_until(
            lambda: _answers(f"http://127.0.0.1:{port}"), timeout=STARTUP_TIMEOUT_S, what="the web UI", service=svc
        )
        started = _marked_pids(svc.marker)
        assert len(started) >= 3, started  # medimind, dg dev, the webserver and the daemon (and code servers)
        svc.process.send_signal(sig)  # to medimind alone, not to its group
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _marked_pids(svc.marker) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = _marked_pids(svc.marker)
        log = svc.log_tail(400)
    assert not left, f"still running {STOP_TIMEOUT_S} s after {sig.name}: {left}\n{log}"
    for alarm in ("SupersessionWarning", "Found a dagster.yaml", "will not be used"):
        assert alarm not in log, log
