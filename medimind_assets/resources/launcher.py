"""The `launcher` resource: where the heavy model work (training, evaluation, merging) runs.

An asset hands the launcher a `PythonJob` (a module of this package that speaks Dagster Pipes, its extras, how
many processes) and gets the completed Pipes invocation back, so the asset code is the same for every engine:
`subprocess` (local processes, the default) or `kubernetes` (a pod on a GPU node, docs/kubernetes.md); several
processes run under `accelerate launch`. `medimind_assets.resources.launcher_for` picks one when the definitions load.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from medimind_assets.errors import MediMindError
from medimind_assets.quiet import ignoring_warning

if TYPE_CHECKING:
    from dagster._core.pipes.client import PipesClientCompletedInvocation

LAUNCHER_ENV = "MEDIMIND_LAUNCHER"
SUBPROCESS = "subprocess"
KUBERNETES = "kubernetes"
LAUNCHERS = (SUBPROCESS, KUBERNETES)
# Dagster's own Pipes session reads a preview property of its message reader and warns about it on every run.
PIPES_PREVIEW_NOTICE = r"Function `PipesMessageReader.expected_writer_count` is currently in preview"


class LauncherConfigError(MediMindError, ValueError):
    """A launcher setting that cannot work; the message names the setting and what it accepts."""


@dataclass(frozen=True)
class PythonJob:
    """One run of a Pipes script of this package (`python -m <module>`)."""

    module: str
    extras: Mapping[str, Any]
    data_dir: Path  # MEDIMIND_DATA_DIR: everything the process writes lands under it
    num_processes: int = 1  # > 1: `accelerate launch`, one process per GPU
    # Files and folders the process reads outside `data_dir`, by what they are: a launcher whose process runs
    # elsewhere (a pod) checks it can see them, and says which one it cannot.
    inputs: Mapping[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.num_processes < 1:
            raise LauncherConfigError(f"num_processes must be >= 1, got {self.num_processes}")

    @property
    def name(self) -> str:
        """The script's short name (`train_lora`), for logs and pod labels."""
        return self.module.rsplit(".", 1)[-1]

    def command(self, python: str) -> list[str]:
        """The command line, with `python` the interpreter on the machine that runs it."""
        if self.num_processes == 1:
            return [python, "-m", self.module]
        # --multi_gpu selects torchrun's launcher; on a machine without GPUs it runs CPU processes over gloo.
        launch = ["accelerate.commands.launch", "--multi_gpu", "--num_processes", str(self.num_processes)]
        one_machine = ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
        return [python, "-m", *launch, *one_machine, "-m", self.module]


PIPES_CLOSED_WITH_EXCEPTION = "[pipes] external process pipes closed with exception"


def reported_exception(context: dg.AssetExecutionContext) -> str | None:
    """The exception the launched process reported as it closed its Pipes session (the last one of this run), as
    `ErrorClass: message`; None when it reported none (killed, or crashed before Pipes opened)."""
    from dagster._core.events import DagsterEventType

    records = context.instance.get_records_for_run(context.run_id, of_type=DagsterEventType.ENGINE_EVENT).records
    for record in reversed(records):
        event = record.event_log_entry.dagster_event
        error = event.engine_event_data.error if event and event.engine_event_data else None
        if error is not None and (event.message or "").startswith(PIPES_CLOSED_WITH_EXCEPTION):
            return error.message.strip()
    return None


class Launcher(dg.ConfigurableResource, ABC):
    """Runs a `PythonJob` through Dagster Pipes and returns the completed invocation (raises if it failed)."""

    def run(self, context: dg.AssetExecutionContext, job: PythonJob) -> PipesClientCompletedInvocation:
        from dagster._core.errors import DagsterPipesExecutionError

        context.log.info(f"launching {job.name}: {self.describe(job)}")
        try:
            with ignoring_warning(PIPES_PREVIEW_NOTICE, dg.PreviewWarning):  # about Dagster's internals, not our code
                return self._launch(context, job)
        except DagsterPipesExecutionError as exc:
            # "External execution process failed with code 1" says nothing: the process's own error does.
            reported = reported_exception(context)
            if reported is None:
                raise
            raise dg.Failure(description=f"{job.name} failed: {reported}") from exc

    @abstractmethod
    def _launch(self, context: dg.AssetExecutionContext, job: PythonJob) -> PipesClientCompletedInvocation:
        """The Pipes client's `run` for `job`."""

    @abstractmethod
    def describe(self, job: PythonJob) -> str:
        """Where `job` runs, in a few words (logged, and recorded in the metadata)."""
