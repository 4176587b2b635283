"""`merged_model` with its heavy half in a pod (the `kubernetes` launcher, a fake API server).

The report comes back as a Pipes custom message read from the pod log; the equivalence check is decided on the
Dagster side from it.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from medimind_assets.assets.merge import EQUIVALENCE_CHECK, merged_model
from medimind_assets_tests.model_world import evaluated, on_the_volume


def test_merge_in_a_pod_is_checked_on_the_dagster_side(world, data_dir: Path, k8s_launcher, fake_cluster):
    settings = on_the_volume(world, data_dir)
    adapter = data_dir / "adapters" / "random"
    base = {
        "name": "tiny-phi",
        "path": str(data_dir / "hf-cache" / "tiny-phi"),
        "content_hash": world.manifest["content_hash"],
    }
    (data_dir / "adapters" / "current.json").write_text(json.dumps(evaluated(world, adapter, base_model=base)))
    result = dg.materialize(
        [merged_model], resources={"settings": settings, "launcher": k8s_launcher}, raise_on_error=False
    )
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == EQUIVALENCE_CHECK and check.passed
    meta = {k: v.value for k, v in result.asset_materializations_for_node("merged_model")[0].metadata.items()}
    assert meta["path"] == str(data_dir / "merged" / "random") and meta["weights_sha256"]
    assert meta["launcher"].startswith("kubernetes pod of ")
    [pod] = fake_cluster.pods.values()
    assert pod.manifest["spec"]["containers"][0]["command"][-1] == "medimind_assets.merging.merge_lora"
