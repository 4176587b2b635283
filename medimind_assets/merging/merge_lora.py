"""The merging process the `merged_model` asset launches through Dagster Pipes (`python -m ...merge_lora`).

It runs `merge_adapter` and sends the report back as one Pipes custom message; it knows only `dagster_pipes`, so it
runs the same in a local process or in a pod on a GPU node. Extras: `base_model_dir`, `adapter_dir`, `out_dir`,
`device`, `atol`, `rtol`, `info` (written into merge_info.json).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from medimind_assets.pipes_scripts import MERGE, run_script


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
    return run_script(MERGE, merge)


if __name__ == "__main__":
    sys.exit(main())
