"""The pod the `kubernetes` launcher submits, built without a cluster and validated against the Kubernetes models.

The pods come from dagster-k8s' own `build_pod_body` (what `PipesK8sClient.run` sends), on the shipped template
`deploy/k8s/training-pod.yaml`; they are serialised the way the API client sends them and parsed back strictly.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import kubernetes.client
import pytest
from dagster_k8s.models import k8s_model_from_dict, k8s_snake_case_dict

from medimind_assets.pipes_scripts import TRAINING
from medimind_assets.resources import KubernetesLauncher, LauncherConfigError, PythonJob
from medimind_assets.resources.kubernetes_launcher import parse_toleration

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = PROJECT_ROOT / "deploy" / "k8s" / "training-pod.yaml"
IMAGE = "registry.example.com/medimind:0.1.0"
BOOTSTRAP = {"DAGSTER_PIPES_CONTEXT": "ctx", "DAGSTER_PIPES_MESSAGES": "msg"}


def launcher(**settings) -> KubernetesLauncher:
    return KubernetesLauncher(image=IMAGE, pod_template=str(TEMPLATE), **settings)


def training_job(data_dir: Path, processes: int = 1, **inputs: Path) -> PythonJob:
    return PythonJob(TRAINING.module, {"fingerprint": "f"}, data_dir=data_dir, num_processes=processes, inputs=inputs)


def wire_round_trip(pod: kubernetes.client.V1Pod) -> dict:
    """The JSON the API client sends; parsed back with dagster-k8s' strict parser (unknown keys fail)."""
    wire = kubernetes.client.ApiClient().sanitize_for_serialization(pod)
    assert k8s_model_from_dict(kubernetes.client.V1Pod, k8s_snake_case_dict(kubernetes.client.V1Pod, wire)) == pod
    return wire


def test_one_gpu_training_pod_from_the_shipped_template(tmp_path: Path):
    data_dir = tmp_path / "data"
    pod = launcher().preview_pod(
        training_job(data_dir, **{"base model": data_dir / "hf-cache" / "phi-2"}),
        pod_name="train-1",
        bootstrap_env=BOOTSTRAP,
    )
    assert isinstance(pod, kubernetes.client.V1Pod)
    wire = wire_round_trip(pod)
    spec, [container] = wire["spec"], wire["spec"]["containers"]
    assert wire["metadata"]["name"] == "train-1"
    assert wire["metadata"]["labels"]["medimind/job"] == "train_lora"
    assert wire["metadata"]["labels"]["app.kubernetes.io/name"] == "dagster"  # dagster-k8s' common labels
    assert wire["metadata"]["labels"]["app.kubernetes.io/part-of"] == "medimind"  # the template's win
    assert container["image"] == IMAGE
    assert container["command"] == ["python", "-m", "medimind_assets.training.train_lora"]
    assert container["resources"]["limits"] == {"memory": "64Gi", "nvidia.com/gpu": "1"}
    assert container["resources"]["requests"] == {"cpu": "8", "memory": "32Gi"}
    assert {"name": "medimind-data", "mountPath": str(data_dir)} in container["volumeMounts"]
    assert {"name": "medimind-data", "persistentVolumeClaim": {"claimName": "medimind-data"}} in spec["volumes"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MEDIMIND_DATA_DIR"] == str(data_dir) and env["DAGSTER_PIPES_CONTEXT"] == "ctx"
    assert env["HF_HUB_OFFLINE"] == "1"  # from the template
    assert spec["restartPolicy"] == "Never"
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert not any(m["mountPath"] == "/dev/shm" for m in container["volumeMounts"])


def test_four_gpus_in_one_pod_through_accelerate(tmp_path: Path):
    settings = {
        "node_selector": {"pool": "h100"},
        "tolerations": ["dedicated=ml:NoExecute"],
        "gpu_resource": "amd.com/gpu",
    }
    wire = wire_round_trip(launcher(**settings).preview_pod(training_job(tmp_path, processes=4)))
    [container] = wire["spec"]["containers"]
    command = container["command"]
    assert command[:4] == ["python", "-m", "accelerate.commands.launch", "--multi_gpu"]
    assert command[command.index("--num_processes") + 1] == "4"
    assert command[command.index("--num_machines") + 1] == "1"
    assert command[-2:] == ["-m", TRAINING.module]
    assert container["resources"]["limits"]["amd.com/gpu"] == "4"
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    # Several processes share memory through /dev/shm, which is 64 MiB in a container unless mounted.
    assert {"name": "medimind-shm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    assert {"name": "medimind-shm", "emptyDir": {"medium": "Memory"}} in wire["spec"]["volumes"]
    assert wire["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true", "pool": "h100"}
    assert {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoExecute"} in wire["spec"][
        "tolerations"
    ]


def test_without_a_template_the_claim_gives_the_data_volume(tmp_path: Path):
    bare = KubernetesLauncher(image=IMAGE, data_volume_claim="shared-data", namespace="ml")
    request = bare.pod_request(training_job(tmp_path))
    assert request.namespace == "ml"
    wire = wire_round_trip(bare.preview_pod(training_job(tmp_path)))
    assert wire["spec"]["volumes"] == [{"name": "medimind-data", "persistentVolumeClaim": {"claimName": "shared-data"}}]
    assert wire["spec"]["containers"][0]["name"] == "medimind"


def test_environment_passes_through_but_secrets_do_not(tmp_path: Path):
    environ = {"HF_HUB_CACHE": "/data/hf-cache", "HF_TOKEN": "hf_secret", "NCCL_DEBUG": "INFO"}
    request = launcher(env={"EXTRA": "1"}).pod_request(training_job(tmp_path), environ=environ)
    assert request.env == {
        "MEDIMIND_DATA_DIR": str(tmp_path),
        "HF_HUB_CACHE": "/data/hf-cache",
        "NCCL_DEBUG": "INFO",
        "EXTRA": "1",
    }


def test_a_model_outside_the_data_volume_is_refused_before_any_pod(tmp_path: Path):
    job = training_job(tmp_path / "data", **{"base model": Path("/root/.cache/huggingface/hub/phi-2")})
    with pytest.raises(LauncherConfigError, match=r"base model \(/root/.cache.*not visible in the pod.*HF_HUB_CACHE="):
        launcher().pod_request(job)


def test_a_typo_in_the_template_names_the_file_and_the_key(tmp_path: Path):
    template = tmp_path / "pod.yaml"
    template.write_text(TEMPLATE.read_text().replace("nodeSelector:", "nodeSelektor:"))
    with pytest.raises(LauncherConfigError, match=rf"{template}.*nodeSelektor"):
        KubernetesLauncher(image=IMAGE, pod_template=str(template)).preview_pod(training_job(tmp_path))


def test_a_wrong_type_in_the_template_is_not_a_valid_pod(tmp_path: Path):
    template = tmp_path / "pod.yaml"
    template.write_text(
        TEMPLATE.read_text().replace("      imagePullPolicy: IfNotPresent\n", "      securityContext: 8\n")
    )
    with pytest.raises(LauncherConfigError, match=rf"{template}: not a valid Pod manifest.*security_context.*dict"):
        KubernetesLauncher(image=IMAGE, pod_template=str(template)).preview_pod(training_job(tmp_path))


def test_no_data_volume_is_a_clear_error(tmp_path: Path):
    with pytest.raises(LauncherConfigError, match="MEDIMIND_K8S_DATA_CLAIM"):
        KubernetesLauncher(image=IMAGE).pod_request(training_job(tmp_path))


def test_the_data_volume_mounted_elsewhere_is_refused(tmp_path: Path):
    template = tmp_path / "pod.yaml"
    text = TEMPLATE.read_text().replace(
        "      imagePullPolicy: IfNotPresent\n",
        "      imagePullPolicy: IfNotPresent\n      volumeMounts:\n        - name: medimind-data\n          mountPath: /mnt\n",
    )
    template.write_text(text)
    with pytest.raises(LauncherConfigError, match="same paths"):
        KubernetesLauncher(image=IMAGE, pod_template=str(template)).pod_request(training_job(tmp_path))


def test_a_template_that_is_not_a_pod(tmp_path: Path):
    template = tmp_path / "job.yaml"
    template.write_text("apiVersion: batch/v1\nkind: Job\nspec: {}\n")
    with pytest.raises(LauncherConfigError, match="MEDIMIND_K8S_POD_TEMPLATE.*kind: Pod"):
        KubernetesLauncher(image=IMAGE, pod_template=str(template)).pod_request(training_job(tmp_path))


@pytest.mark.parametrize(
    ("taint", "toleration"),
    [
        ("nvidia.com/gpu:NoSchedule", {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}),
        ("dedicated=ml:NoExecute", {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoExecute"}),
        ("nvidia.com/gpu", {"key": "nvidia.com/gpu", "operator": "Exists"}),
    ],
)
def test_tolerations_in_kubectl_taint_syntax(taint: str, toleration: dict):
    assert parse_toleration(taint) == toleration
    k8s_model_from_dict(kubernetes.client.V1Toleration, toleration)


def test_a_bad_taint_effect_names_the_allowed_ones():
    with pytest.raises(LauncherConfigError, match="NoSchedule, PreferNoSchedule, NoExecute"):
        parse_toleration("nvidia.com/gpu:NoScheduled", setting="MEDIMIND_K8S_TOLERATIONS")


@pytest.mark.parametrize("kubeconfig", ["missing", "unreachable"])
def test_no_reachable_cluster_fails_the_step_in_one_line(tmp_path: Path, kubeconfig: str):
    """Valid settings and no cluster (no kubeconfig, or nothing listening at its address): the step fails with
    one line naming the problem, not a client library's traceback."""
    from medimind_assets.resources import KubernetesLauncher, PythonJob
    from medimind_assets_tests.resources.fake_kubelet import KUBECONFIG

    config = tmp_path / "kubeconfig"
    if kubeconfig == "unreachable":
        config.write_text(KUBECONFIG)  # https://127.0.0.1:9: nothing listens there
    launcher = KubernetesLauncher(
        image="registry.example.com/medimind:test", kubeconfig_file=str(config), data_volume_claim="medimind-data"
    )

    @dg.asset
    def trains(context) -> None:
        launcher.run(context, PythonJob("medimind_assets.training.train_lora", {}, data_dir=tmp_path))

    result = dg.materialize([trains], raise_on_error=False)
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert "the Kubernetes cluster cannot be reached" in message and "\n" not in message
