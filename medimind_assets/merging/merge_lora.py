"""The merging process the `merged_model` asset launches through Dagster Pipes (`python -m ...merge_lora`).

Loads the base model in full precision, merges the promoted adapter, saves `merged/<fingerprint>/` atomically,
proves the merge (logits of the saved model against base + adapter) and sends the report back as one Pipes
custom message; the asset records it and runs the equivalence check. It knows only `dagster_pipes`, so it runs
the same in a local process or in a pod on a GPU node.

Extras: `base_model_dir`, `adapter_dir`, `out_dir`, `device`, `atol`, `rtol`, `info` (written into merge_info.json).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

from medimind_assets.orphans import exit_with_parent

REPORT_MESSAGE_KEY = "merge"


def merge(extras: dict[str, Any], log) -> dict[str, Any]:
    """Merge as the extras describe; the MergeReport as JSON data."""
    from medimind_assets.integrity import read_summary
    from medimind_assets.llm.template import template_from_summary
    from medimind_assets.merging.merge import merge_adapter

    adapter_dir = Path(extras["adapter_dir"])
    report = merge_adapter(
        Path(extras["base_model_dir"]),
        adapter_dir,
        Path(extras["out_dir"]),
        template=template_from_summary(read_summary(adapter_dir)),
        device=extras.get("device", "auto"),
        atol=extras.get("atol"),
        rtol=extras.get("rtol"),
        info=dict(extras.get("info") or {}),
        log=log,
    )
    return json.loads(json.dumps(report.as_dict(), default=str))


def main() -> int:
    if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
        print(
            "merge_lora is launched by the `merged_model` asset through Dagster Pipes; materialize it, e.g. "
            "`medimind launch merged_model`.",
            file=sys.stderr,
        )
        return 2
    exit_with_parent()  # never outlive the step that launched this process (medimind_assets/orphans.py)
    with open_dagster_pipes() as pipes:
        pipes.report_custom_message({REPORT_MESSAGE_KEY: merge(dict(pipes.extras), pipes.log.info)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
