"""The three processes the assets launch through Dagster Pipes, each defined once for both sides of the boundary:
the module the launcher runs, the asset that launches it, and the custom message its result comes back in.
Standard library only: the Dagster definitions import it, and so do the processes, which know only
`dagster_pipes`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PipesScript:
    module: str
    asset: str
    message: str | None = None  # the custom message key of its result; None: it reports a materialization

    @property
    def name(self) -> str:
        return self.module.rsplit(".", 1)[-1]

    def not_in_pipes(self) -> int:
        """What the process says, and exits with, when started by hand rather than by its asset."""
        print(
            f"{self.name} is launched by the `{self.asset}` asset through Dagster Pipes; materialize it, e.g. "
            f"`medimind launch {self.asset}`.",
            file=sys.stderr,
        )
        return 2


TRAINING = PipesScript("medimind_assets.training.train_lora", "lora_adapter")
EVALUATION = PipesScript("medimind_assets.evaluation.evaluate_lora", "evaluation", message="evaluation")
MERGE = PipesScript("medimind_assets.merging.merge_lora", "merged_model", message="merge")


def run_script(script: PipesScript, work: Callable[[dict[str, Any], Callable[[str], None]], Any]) -> int:
    """The process side of `script`: `work(extras, log)` inside the Pipes session, its result sent back as the
    script's one custom message. The process stops with the step that launched it (`orphans.py`)."""
    from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

    from medimind_assets.orphans import exit_with_parent

    if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
        return script.not_in_pipes()
    exit_with_parent()
    with open_dagster_pipes() as pipes:
        pipes.report_custom_message({script.message: work(dict(pipes.extras), pipes.log.info)})
    return 0
