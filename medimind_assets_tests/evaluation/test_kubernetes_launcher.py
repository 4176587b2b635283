"""`evaluation` and `merged_model` with their heavy half in a pod (the `kubernetes` launcher, a fake API server).

The report comes back as a Pipes custom message read from the pod log; the promotion and the equivalence check
are decided on the Dagster side from it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg

from medimind_assets.assets.evaluation import PROMOTION_CHECK, EvaluationConfig, evaluation
from medimind_assets.assets.merge import EQUIVALENCE_CHECK, merged_model
from medimind_assets.models import write_current_base_model
from medimind_assets.resources import MediMindSettings
from medimind_assets_tests.evaluation.conftest import use_adapter

FAST = EvaluationConfig(generation_sample=2, max_new_tokens=8, max_safety_questions=2, margin=0.05)


def on_the_volume(world, data: Path) -> MediMindSettings:
    """The world's raw files, base model and adapters copied under MEDIMIND_DATA_DIR, where a pod sees them."""
    shutil.copytree(world.raw_dir, data / "raw")
    base = data / "hf-cache" / "tiny-phi"
    shutil.copytree(world.base_dir, base)
    write_current_base_model(data / "models", {**world.manifest, "path": str(base)})
    for adapter in (world.trained_adapter, world.random_adapter):
        shutil.copytree(adapter, data / "adapters" / adapter.name)
    return MediMindSettings(raw_dir=str(data / "raw"), data_dir=str(data), base_model="tiny-phi")


def test_evaluation_in_a_pod_promotes_a_passing_adapter(world, data_dir: Path, k8s_launcher, fake_cluster):
    settings = on_the_volume(world, data_dir)
    use_adapter(data_dir, data_dir / "adapters" / "trained")
    result = dg.materialize(
        [evaluation],
        resources={"settings": settings, "launcher": k8s_launcher},
        run_config=dg.RunConfig(ops={"evaluation": FAST}),
        raise_on_error=False,
    )
    assert result.success
    [pod] = fake_cluster.pods.values()
    assert pod.manifest["spec"]["containers"][0]["command"][-1] == "medimind_assets.evaluation.evaluate_lora"
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == PROMOTION_CHECK and check.passed
    meta = {k: v.value for k, v in result.asset_materializations_for_node("evaluation")[0].metadata.items()}
    assert meta["launcher"].startswith("kubernetes pod of ")
    report = json.loads((data_dir / "evaluations" / "trained" / "evaluation.json").read_text())
    assert meta["adapter/loss"] == report["metrics"]["adapter"]["loss"] and meta["delta/loss"] < -0.05
    current = json.loads((data_dir / "adapters" / "current.json").read_text())
    assert current["fingerprint"] == "trained"


def test_merge_in_a_pod_is_checked_on_the_dagster_side(world, data_dir: Path, k8s_launcher, fake_cluster):
    settings = on_the_volume(world, data_dir)
    adapter = data_dir / "adapters" / "random"
    base = {
        "name": "tiny-phi",
        "path": str(data_dir / "hf-cache" / "tiny-phi"),
        "content_hash": world.manifest["content_hash"],
    }
    (data_dir / "adapters" / "current.json").write_text(
        json.dumps({"fingerprint": "random", "path": str(adapter), "base_model": base})
    )
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
    assert pod.manifest["spec"]["containers"][0]["command"][-1] == "medimind_assets.evaluation.merge_lora"
