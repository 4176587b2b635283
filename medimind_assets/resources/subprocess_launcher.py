"""The `subprocess` launcher: the job runs on this machine, in local processes (the default)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from medimind_assets.orphans import RUN_WORKER_PID
from medimind_assets.resources.launcher import Launcher, PythonJob
from medimind_assets.resources.pipes_messages import WholeLineTempFileReader
from medimind_assets.run_health import run_worker

if TYPE_CHECKING:
    from dagster._core.pipes.client import PipesClientCompletedInvocation


class SubprocessLauncher(Launcher):
    """`python -m <module>` (or `accelerate launch` for several processes) through `PipesSubprocessClient`."""

    python: str | None = Field(None, description="Interpreter to run the job with (default: the one running Dagster).")
    env: dict[str, str] = Field(default_factory=dict, description="Environment set on top of this process's.")

    def describe(self, job: PythonJob) -> str:
        processes = "1 process" if job.num_processes == 1 else f"{job.num_processes} processes (accelerate launch)"
        return f"subprocess on this machine, {processes}"

    def _launch(self, context: dg.AssetExecutionContext, job: PythonJob) -> PipesClientCompletedInvocation:
        env = {"MEDIMIND_DATA_DIR": str(job.data_dir), **self.env}
        # The job stops when the run's worker dies, also when this step process outlives it (orphans.py).
        if (worker := run_worker(context.instance, context.run_id)) is not None:
            env[RUN_WORKER_PID] = str(worker[0])
        return dg.PipesSubprocessClient(message_reader=WholeLineTempFileReader()).run(
            command=job.command(self.python or sys.executable), context=context, extras=dict(job.extras), env=env
        )
