"""The training process the `lora_adapter` asset launches through Dagster Pipes.

    python -m medimind_assets.training.train_lora                      # one process
    accelerate launch --multi_gpu --num_processes 2 -m medimind_assets.training.train_lora

Inputs come from the Pipes extras (see `TrainingRequest.to_extras`). Under `accelerate launch` every process
trains; only rank 0 opens the Pipes message channel (logs, the one materialization) and writes files. Any
failure exits non-zero, which fails the Dagster run; so does a run that ends without reporting.
"""

from __future__ import annotations

import sys
from typing import Any

from dagster_pipes import PipesDefaultContextLoader, PipesEnvVarParamsLoader, open_dagster_pipes

from medimind_assets.orphans import exit_with_parent
from medimind_assets.pipes_scripts import TRAINING
from medimind_assets.training.reporting import SilentReporter, pipes_metadata
from medimind_assets.training.request import TrainingRequest
from medimind_assets.training.runner import Distributed, run_training


def _read_extras(params: PipesEnvVarParamsLoader) -> dict[str, Any]:
    """The extras without opening the message channel (for ranks other than 0)."""
    with PipesDefaultContextLoader().load_context(params.load_context_params()) as data:
        return dict(data["extras"])


def main() -> int:
    params = PipesEnvVarParamsLoader()
    if not params.is_dagster_pipes_process():
        return TRAINING.not_in_pipes()
    distributed = Distributed.from_env()
    if not distributed.is_main:
        run_training(TrainingRequest.from_extras(_read_extras(params)), SilentReporter(), distributed)
        return 0
    exit_with_parent()  # never outlive the step that launched this process (medimind_assets/orphans.py)
    with open_dagster_pipes() as pipes:
        request = TrainingRequest.from_extras(dict(pipes.extras))
        outcome = run_training(request, pipes.log, distributed)  # progress lines as the run's logs
        metadata = pipes_metadata(outcome.summary, outcome.reused)
        pipes.report_asset_materialization(metadata=metadata, data_version=request.fingerprint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
