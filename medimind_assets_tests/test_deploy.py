"""The deployment files agree with each other and with the code: the Dockerfile, the Helm values, the pod.

Nothing here runs docker, helm or a cluster: the Dockerfile is parsed instruction by instruction, the YAML files
are read and their Kubernetes objects validated with the kubernetes client's models (via dagster-k8s' strict
parser), and the code location is loaded with the environment the chart gives it.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import kubernetes.client as k8s
import pytest
import yaml
from dagster_k8s.models import k8s_model_from_dict, k8s_snake_case_dict

from medimind_assets.config import Deployment
from medimind_assets.pipes_scripts import TRAINING
from medimind_assets.resources import PythonJob, launcher_for
from medimind_assets_tests.resources.test_launcher_selection import load_definitions

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "k8s"
# pytorch/pytorch:<torch x.y.z>-cuda<x.y>-cudnn<n>-runtime|devel: one release of each, never a moving tag.
PINNED_PYTORCH = re.compile(r"^pytorch/pytorch:\d+\.\d+\.\d+-cuda\d+\.\d+-cudnn\d+-(runtime|devel)$")


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, backslash continuations joined, as docker reads them."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not current):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, arguments = current.strip().partition(" ")
        if not re.fullmatch(r"[A-Za-z]+", keyword):
            raise ValueError(f"not a Dockerfile instruction: {current!r}")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    if current:
        raise ValueError(f"unterminated continuation: {current!r}")
    return instructions


def k8s_object(model, manifest: dict):
    """A Kubernetes object from camelCase YAML; unknown keys or wrong types raise."""
    return k8s_model_from_dict(model, k8s_snake_case_dict(model, manifest))


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((DEPLOY / "values.yaml").read_text())


@pytest.fixture(scope="module")
def deployment(values) -> dict:
    [medimind] = values["dagster-user-deployments"]["deployments"]
    return medimind


def test_dockerfile_is_a_pinned_cuda_pytorch_image_running_the_training_script():
    instructions = dockerfile_instructions((ROOT / "Dockerfile").read_text())
    keywords = [keyword for keyword, _ in instructions]
    assert keywords[0] == "FROM" and keywords.count("FROM") == 1
    base = instructions[0][1]
    assert PINNED_PYTORCH.match(base), f"FROM {base}: expected pytorch/pytorch:<x.y.z>-cuda<x.y>-cudnn<n>-runtime"
    assert set(keywords) <= {"FROM", "ENV", "WORKDIR", "COPY", "RUN", "CMD", "ARG", "LABEL", "USER"}
    # No ENTRYPOINT: the chart's `dagster api grpc ...` args must replace the command, not be appended to it.
    assert "ENTRYPOINT" not in keywords
    [cmd] = [arguments for keyword, arguments in instructions if keyword == "CMD"]
    command = json.loads(cmd)  # exec form
    assert command == PythonJob(TRAINING.module, {}, data_dir=Path("/data")).command("python")


def test_dockerfile_copies_what_the_package_needs_and_installs_declared_extras():
    instructions = dockerfile_instructions((ROOT / "Dockerfile").read_text())
    copied = [shlex.split(arguments)[:-1] for keyword, arguments in instructions if keyword == "COPY"]
    sources = [source for group in copied for source in group]
    assert {"pyproject.toml", "README.md", "medimind_assets"} <= set(sources)
    assert all((ROOT / source).exists() for source in sources)
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert all(f"!{source}" in ignore or f"!{source}/" in ignore for source in sources)
    toml = pytest.importorskip("tomllib")  # Python 3.11+
    project = toml.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set(project.get("license-files", [])) <= set(sources)  # pip refuses to build without them
    extras = project["optional-dependencies"]
    installs = [a for k, a in instructions if k == "RUN" and "pip install" in a]
    requested = {name for run in installs for name in re.findall(r"\.\[([\w,-]+)\]", run)}
    assert requested and all(extra in extras for group in requested for extra in group.split(","))
    env = " ".join(a for k, a in instructions if k == "ENV")
    assert "PYTHONUNBUFFERED=1" in env  # Pipes messages and progress reach the pod log as they are written


def test_training_pod_template_and_storage_are_valid_objects_sharing_one_claim():
    pod = yaml.safe_load((DEPLOY / "training-pod.yaml").read_text())
    assert pod["kind"] == "Pod"
    parsed = k8s_object(k8s.V1Pod, pod)
    claim = yaml.safe_load((DEPLOY / "storage.yaml").read_text())
    pvc = k8s_object(k8s.V1PersistentVolumeClaim, claim)
    assert pvc.spec.access_modes == ["ReadWriteMany"]  # run pods and the GPU pod mount it at once
    [data] = [v for v in parsed.spec.volumes if v.name == "medimind-data"]
    assert data.persistent_volume_claim.claim_name == pvc.metadata.name


def test_helm_values_run_kubernetes_jobs_on_postgres_with_the_gpu_pool_limited(values, deployment):
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is True
    assert values["concurrency"]["enabled"] is True
    assert values["concurrency"]["pools"] == {"defaultLimit": 1, "granularity": "op"}
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "medimind_assets.definitions"]
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}  # run pods get the env and the volume


def test_helm_values_point_the_code_location_at_the_same_image_volume_and_template(values, deployment):
    env = deployment["env"]
    image = deployment["image"]
    assert env["MEDIMIND_LAUNCHER"] == "kubernetes"
    assert env["MEDIMIND_K8S_IMAGE"] == f"{image['repository']}:{image['tag']}"  # training runs the loaded code
    volumes = {v["name"]: k8s_object(k8s.V1Volume, v) for v in deployment["volumes"]}
    mounts = {m["name"]: k8s_object(k8s.V1VolumeMount, m) for m in deployment["volumeMounts"]}
    assert set(volumes) == set(mounts)
    data_claim = yaml.safe_load((DEPLOY / "storage.yaml").read_text())["metadata"]["name"]
    [data] = [name for name, v in volumes.items() if v.persistent_volume_claim]
    assert volumes[data].persistent_volume_claim.claim_name == data_claim
    assert mounts[data].mount_path == env["MEDIMIND_DATA_DIR"]
    assert env["MEDIMIND_RAW_DIR"].startswith(env["MEDIMIND_DATA_DIR"] + "/")
    assert env["HF_HUB_CACHE"].startswith(env["MEDIMIND_DATA_DIR"] + "/")  # base models land on the volume
    [template] = [name for name, v in volumes.items() if v.config_map]
    assert Path(env["MEDIMIND_K8S_POD_TEMPLATE"]).parent == Path(mounts[template].mount_path)
    assert Path(env["MEDIMIND_K8S_POD_TEMPLATE"]).name == "training-pod.yaml"


def test_the_code_location_with_the_chart_environment_loads_the_kubernetes_launcher(deployment, tmp_path):
    env = {key: str(value) for key, value in deployment["env"].items()}
    env["MEDIMIND_K8S_POD_TEMPLATE"] = str(DEPLOY / "training-pod.yaml")  # where the ConfigMap would be mounted
    env["MEDIMIND_DATA_DIR"] = str(tmp_path / "data")
    done = load_definitions(env)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert loaded["type"] == "KubernetesLauncher" and loaded["heavy"] == []
    launcher = launcher_for(Deployment.from_env(env), Path(env["MEDIMIND_DATA_DIR"]))
    pod = k8s.ApiClient().sanitize_for_serialization(
        launcher.preview_pod(PythonJob(TRAINING.module, {}, data_dir=Path(env["MEDIMIND_DATA_DIR"]), num_processes=2))
    )
    assert pod["spec"]["containers"][0]["image"] == env["MEDIMIND_K8S_IMAGE"]
    assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"


@pytest.mark.parametrize("config", ["deploy/local/dagster.yaml", "deploy/dagster.yaml"])
def test_a_run_that_ends_holding_the_gpu_slot_frees_it(config, tmp_path):
    """A run worker killed mid-training leaves its run failed with the `gpu` slot claimed: run monitoring must free
    it, or every later training waits in the queue for good."""
    import dagster as dg
    import yaml

    settings = yaml.safe_load((Path(__file__).resolve().parents[1] / config).read_text())
    local = {key: settings[key] for key in ("concurrency", "run_monitoring") if key in settings}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(local))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled
        assert 0 < instance.run_monitoring_settings["free_slots_after_run_end_seconds"] <= 300
