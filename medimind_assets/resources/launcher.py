"""The `launcher` resource: where the heavy model work (training, evaluation, merging) runs.

An asset hands the launcher a `PythonJob` (a module of this package that speaks Dagster Pipes, its extras, how
many processes) and gets the completed Pipes invocation back. Which engine runs it is configuration; the asset
code is the same for every engine:

- `subprocess` (the default): local processes through Dagster's `PipesSubprocessClient`; several processes
  (one per local GPU) through `accelerate launch`.
- `kubernetes`: one pod on a GPU node through dagster-k8s' `PipesK8sClient`, from this package's image, with the
  data volume mounted at the same `MEDIMIND_DATA_DIR`; several GPUs in that pod through `accelerate launch`.

`medimind_assets.resources.launcher_for` picks one from the deployment settings when the definitions load.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from medimind_assets.errors import MediMindError

if TYPE_CHECKING:
    from dagster._core.pipes.client import PipesClientCompletedInvocation

LAUNCHER_ENV = "MEDIMIND_LAUNCHER"
SUBPROCESS = "subprocess"
KUBERNETES = "kubernetes"
LAUNCHERS = (SUBPROCESS, KUBERNETES)
# Dagster's own Pipes session reads a preview property of its message reader and warns about it on every run.
PIPES_PREVIEW_NOTICE = r"Function `PipesMessageReader.expected_writer_count` is currently in preview"


def pipes_session_notices_muted() -> AbstractContextManager[None]:
    """Around a Pipes client's `run`: Dagster's preview warning about its own internals, not about our code."""
    from medimind_assets.quiet import ignoring_warning

    return ignoring_warning(PIPES_PREVIEW_NOTICE, dg.PreviewWarning)


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
            raise ValueError(f"num_processes must be >= 1, got {self.num_processes}")

    @property
    def name(self) -> str:
        """The script's short name (`train_lora`), for logs and pod labels."""
        return self.module.rsplit(".", 1)[-1]

    def command(self, python: str) -> list[str]:
        """The command line, with `python` the interpreter on the machine that runs it."""
        if self.num_processes == 1:
            return [python, "-m", self.module]
        # --multi_gpu selects torchrun's launcher; on a machine without GPUs it runs CPU processes over gloo.
        return [
            python,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            str(self.num_processes),
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            self.module,
        ]


class Launcher(dg.ConfigurableResource, ABC):
    """Runs a `PythonJob` through Dagster Pipes and returns the completed invocation (raises if it failed)."""

    @abstractmethod
    def run(self, context: dg.AssetExecutionContext, job: PythonJob) -> PipesClientCompletedInvocation: ...

    @abstractmethod
    def describe(self, job: PythonJob) -> str:
        """Where `job` runs, in a few words (logged, and recorded in the metadata)."""
