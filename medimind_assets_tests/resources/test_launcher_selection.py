"""MEDIMIND_LAUNCHER picks the launcher the definitions load; bad settings fail at load, naming the setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medimind_assets.config import Deployment
from medimind_assets.resources import KubernetesLauncher, LauncherConfigError, SubprocessLauncher, launcher_for


def launcher_from_env(data_dir: Path, environ: dict[str, str]):
    """The launcher the definitions would load with `environ` as the environment."""
    return launcher_for(Deployment.from_env(environ), data_dir)


PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = PROJECT_ROOT / "deploy" / "k8s" / "training-pod.yaml"
KUBERNETES_ENV = {
    "MEDIMIND_LAUNCHER": "kubernetes",
    "MEDIMIND_K8S_IMAGE": "registry.example.com/medimind:0.1.0",
    "MEDIMIND_K8S_POD_TEMPLATE": str(TEMPLATE),
    "MEDIMIND_K8S_NAMESPACE": "medimind",
    "MEDIMIND_K8S_NODE_SELECTOR": "pool=h100, cloud.google.com/gke-accelerator=nvidia-h100-80gb",
    "MEDIMIND_K8S_TOLERATIONS": "dedicated=ml:NoSchedule,nvidia.com/gpu",
}


def load_definitions(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Import the code location in a fresh interpreter, as `dagster dev` or the code server would."""
    code = (
        "import json, sys; import medimind_assets.definitions as d; "
        "defs = d.defs(); defs.resolve_asset_graph(); r = defs.resources['launcher']; "
        "print(json.dumps({'type': type(r).__name__, 'config': r.model_dump(), "
        "'heavy': [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIMIND_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )


def test_the_default_is_local_processes(tmp_path: Path):
    assert isinstance(launcher_from_env(tmp_path, {}), SubprocessLauncher)
    assert isinstance(launcher_from_env(tmp_path, {"MEDIMIND_LAUNCHER": " Subprocess "}), SubprocessLauncher)


def test_kubernetes_settings_come_from_the_environment(tmp_path: Path):
    launcher = launcher_from_env(tmp_path, KUBERNETES_ENV)
    assert isinstance(launcher, KubernetesLauncher)
    assert launcher.image == "registry.example.com/medimind:0.1.0"
    assert launcher.namespace == "medimind" and launcher.pod_template == str(TEMPLATE)
    assert launcher.node_selector == {"pool": "h100", "cloud.google.com/gke-accelerator": "nvidia-h100-80gb"}
    assert launcher.tolerations == ["dedicated=ml:NoSchedule", "nvidia.com/gpu"]
    assert launcher.gpu_resource == "nvidia.com/gpu"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"MEDIMIND_LAUNCHER": "gpu"},
            "MEDIMIND_LAUNCHER='gpu' is not a launcher; allowed values: subprocess, kubernetes",
        ),
        ({"MEDIMIND_LAUNCHER": "kubernetes"}, "needs MEDIMIND_K8S_IMAGE"),
        (
            {**KUBERNETES_ENV, "MEDIMIND_K8S_POD_TEMPLATE": "/nonexistent/pod.yaml"},
            "MEDIMIND_K8S_POD_TEMPLATE=/nonexistent/pod.yaml: no such file",
        ),
        ({**KUBERNETES_ENV, "MEDIMIND_K8S_NODE_SELECTOR": "gpu"}, "MEDIMIND_K8S_NODE_SELECTOR: 'gpu' is not key=value"),
        (
            {**KUBERNETES_ENV, "MEDIMIND_K8S_TOLERATIONS": "gpu:NoRun"},
            "MEDIMIND_K8S_TOLERATIONS: 'gpu:NoRun' has effect 'NoRun'",
        ),
        ({**KUBERNETES_ENV, "MEDIMIND_K8S_POD_TEMPLATE": ""}, "set MEDIMIND_K8S_DATA_CLAIM"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path: Path, env: dict, message: str):
    with pytest.raises(LauncherConfigError) as error:
        launcher_from_env(tmp_path, env)
    assert message in str(error.value)


def test_the_definitions_load_the_selected_launcher_without_torch(tmp_path: Path):
    default = load_definitions({})
    assert default.returncode == 0, default.stderr
    loaded = json.loads(default.stdout)
    assert loaded["type"] == "SubprocessLauncher" and loaded["heavy"] == []

    done = load_definitions({**KUBERNETES_ENV, "MEDIMIND_DATA_DIR": str(tmp_path / "data")})
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert loaded["type"] == "KubernetesLauncher" and loaded["heavy"] == []
    assert loaded["config"]["image"] == KUBERNETES_ENV["MEDIMIND_K8S_IMAGE"]
    assert loaded["config"]["pod_template"] == str(TEMPLATE)


def test_a_bad_launcher_fails_the_code_location_with_the_setting_named():
    done = load_definitions({"MEDIMIND_LAUNCHER": "slurm"})
    assert done.returncode != 0
    assert "MEDIMIND_LAUNCHER='slurm' is not a launcher; allowed values: subprocess, kubernetes" in done.stderr
