"""`evaluation` with its heavy half in a pod (the `kubernetes` launcher, a fake API server).

The report comes back as a Pipes custom message read from the pod log; the promotion is decided on the Dagster
side from it.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from medimind_assets.assets.evaluation import PROMOTION_CHECK, EvaluationConfig, evaluation
from medimind_assets.presentation import significant
from medimind_assets_tests.model_world import on_the_volume, use_adapter

FAST = EvaluationConfig(generation_sample=2, max_new_tokens=8, max_safety_questions=2, margin=0.05)


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
    assert meta["adapter/loss"] == significant(report["metrics"]["adapter"]["loss"]) and meta["delta/loss"] < -0.05
    current = json.loads((data_dir / "adapters" / "current.json").read_text())
    assert current["fingerprint"] == "trained"
