"""`lora_adapter` trained through the `kubernetes` launcher: dagster-k8s' real PipesK8sClient, a fake API server.

The pod dagster-k8s submits (built on the shipped template) runs as a local process; its Pipes messages come
back through the pod log, as from a cluster. What is not exercised: a real API server, scheduling onto a GPU
node, image pulls, the volume itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from medimind_assets.assets.training import lora_adapter
from medimind_assets.models import write_current_base_model
from medimind_assets_tests.conftest import K8S_TEST_IMAGE as IMAGE

from .conftest import QUICK, run_messages


@pytest.fixture
def model_on_the_volume(settings, tiny_phi) -> dict:
    """tiny-phi copied under MEDIMIND_DATA_DIR, where a pod sees it (as HF_HUB_CACHE=<data>/hf-cache does)."""
    target = settings.store.root / "hf-cache" / "tiny-phi"
    shutil.copytree(tiny_phi["path"], target)
    manifest = {**tiny_phi, "path": str(target)}
    write_current_base_model(settings.store, manifest)
    return manifest


def materialize(settings, launcher, instance, **config):
    return dg.materialize(
        [lora_adapter],
        instance=instance,
        resources={"settings": settings, "launcher": launcher},
        run_config={"ops": {"lora_adapter": {"config": {**QUICK, **config}}}},
        raise_on_error=False,
    )


def test_training_in_a_pod_reports_through_the_pod_log(settings, model_on_the_volume, k8s_launcher, fake_cluster):
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(settings, k8s_launcher, instance)
    assert result.success, run_messages(instance, result)

    [pod] = fake_cluster.pods.values()
    assert pod.namespace == "medimind" and pod.deleted and pod.process.returncode == 0
    [container] = pod.manifest["spec"]["containers"]
    assert container["image"] == IMAGE
    assert container["command"] == ["python", "-m", "medimind_assets.training.train_lora"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"name": "medimind-data", "mountPath": str(settings.store.root)} in container["volumeMounts"]

    [materialization] = result.asset_materializations_for_node("lora_adapter")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["launcher"] == f"kubernetes pod of {IMAGE} in medimind, 1 x nvidia.com/gpu"
    assert metadata["global_step"] == QUICK["max_steps"]
    assert materialization.tags["dagster/data_version"] == metadata["identifiers"]["fingerprint"]
    latest = settings.store.read_latest()
    assert (
        latest["path"] == metadata["identifiers"]["adapter_path"]
        and Path(latest["path"], "adapter_model.safetensors").is_file()
    )
    # Progress lines streamed from the pod, through its log, into the run's log.
    assert any(f"step {QUICK['max_steps']}/{QUICK['max_steps']}" in m for m in run_messages(instance, result))


def test_a_failing_pod_fails_the_run_with_its_error(
    settings, model_on_the_volume, k8s_launcher, fake_cluster, monkeypatch
):
    instance = dg.DagsterInstance.ephemeral()
    monkeypatch.setattr("medimind_assets.training.request.model_context", lambda model_dir: None)  # fails in the pod
    result = materialize(settings, k8s_launcher, instance, max_length=2048)
    assert not result.success
    assert any("exceeds the context of base model" in m for m in run_messages(instance, result))
    [pod] = fake_cluster.pods.values()
    assert pod.process.returncode != 0 and pod.deleted
    assert not (settings.store.adapters / "latest.json").exists()


def test_a_model_the_pod_cannot_see_fails_before_any_pod(settings, tiny_phi, k8s_launcher, fake_cluster):
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(settings, k8s_launcher, instance)  # tiny-phi lives outside MEDIMIND_DATA_DIR
    assert not result.success
    assert any("is not visible in the pod" in m and "HF_HUB_CACHE" in m for m in run_messages(instance, result))
    assert fake_cluster.pods == {}
