"""The `kubernetes` launcher: the job runs in a pod on a GPU node, through dagster-k8s' `PipesK8sClient`, built on
the pod template (docs/kubernetes.md: what the launcher sets on it, the data volume at the same path as
`MEDIMIND_DATA_DIR`). dagster-k8s and the kubernetes client are imported only when this launcher is used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from medimind_assets.presentation import first_line
from medimind_assets.resources.launcher import KUBERNETES, LAUNCHER_ENV, Launcher, LauncherConfigError, PythonJob

if TYPE_CHECKING:
    from dagster._core.pipes.client import PipesClientCompletedInvocation
    from kubernetes.client import V1Pod

DATA_VOLUME = "medimind-data"
SHM_VOLUME = "medimind-shm"
DEFAULT_CONTAINER = "medimind"
# Read by the libraries in the pod, when set where Dagster runs. Secrets (HF_TOKEN) belong in the pod template
# (`envFrom: secretRef`), never in the pod spec as plain values.
DEFAULT_ENV_PASSTHROUGH = (
    "HF_HOME",
    "HF_HUB_CACHE",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "PYTORCH_CUDA_ALLOC_CONF",
    "NCCL_DEBUG",
)
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

# Settings `KubernetesLauncher.from_settings` takes: field -> the variable that sets it.
ENV_VARS = {
    "image": "MEDIMIND_K8S_IMAGE",
    "namespace": "MEDIMIND_K8S_NAMESPACE",
    "pod_template": "MEDIMIND_K8S_POD_TEMPLATE",
    "data_volume_claim": "MEDIMIND_K8S_DATA_CLAIM",
    "gpu_resource": "MEDIMIND_K8S_GPU_RESOURCE",
    "node_selector": "MEDIMIND_K8S_NODE_SELECTOR",
    "tolerations": "MEDIMIND_K8S_TOLERATIONS",
}


@dataclass(frozen=True)
class PodRequest:
    """What `PipesK8sClient.run` receives, by its argument names: namespace, environment, base pod (snake_case)."""

    namespace: str | None
    env: dict[str, str]
    base_pod_meta: dict[str, Any]
    base_pod_spec: dict[str, Any]


class KubernetesLauncher(Launcher):
    """One pod per job, on a GPU node, from this package's image."""

    image: str = Field(description="The image the pod runs: this package's (see the Dockerfile), tag pinned.")
    namespace: str | None = Field(
        None, description="Namespace of the pod (default: the pod template's, else the current one)."
    )
    pod_template: str | None = Field(None, description="Path to a Pod manifest (YAML) the pod is built on.")
    data_volume_claim: str | None = Field(
        None,
        description=f"PersistentVolumeClaim mounted at MEDIMIND_DATA_DIR (else the template's volume {DATA_VOLUME!r}).",
    )
    gpu_resource: str = Field("nvidia.com/gpu", description="Extended resource a GPU is requested as.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Added to the template's nodeSelector.")
    tolerations: list[str] = Field(
        default_factory=list,
        description="Taints the pod tolerates, kubectl syntax: key=value:Effect, key:Effect or key.",
    )
    env_passthrough: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ENV_PASSTHROUGH),
        description="Variables copied into the pod from Dagster's environment, where set.",
    )
    env: dict[str, str] = Field(default_factory=dict, description="Variables set in the pod.")
    python: str = Field("python", description="The interpreter in the image.")
    load_incluster_config: bool | None = Field(
        None, description="None: in-cluster config inside a cluster, else the kubeconfig."
    )
    kubeconfig_file: str | None = None
    kube_context: str | None = None
    poll_interval: float = Field(10.0, description="Seconds between pod status polls.")
    pod_wait_timeout: float = Field(86400.0, description="Seconds a pod may run before the step fails (0: no limit).")
    delete_pod_on_completion: bool = True

    @classmethod
    def from_settings(cls, environ: Mapping[str, str]) -> KubernetesLauncher:
        """From the MEDIMIND_K8S_* settings (`config.Deployment.kubernetes`: variable -> value)."""
        values = {name: environ.get(variable, "").strip() for name, variable in ENV_VARS.items()}
        if not values["image"]:
            raise LauncherConfigError(
                f"{LAUNCHER_ENV}={KUBERNETES} needs {ENV_VARS['image']}: the image the training pod runs "
                "(built from the Dockerfile, e.g. registry.example.com/medimind:0.1.0)"
            )
        tolerations = [t.strip() for t in values.pop("tolerations").split(",") if t.strip()]
        for toleration in tolerations:  # refused here, naming the setting, before anything else is checked
            parse_toleration(toleration, setting=ENV_VARS["tolerations"])
        node_selector = {}  # key=value,key2=value2
        for item in filter(None, (part.strip() for part in values.pop("node_selector").split(","))):
            key, equals, value = item.partition("=")
            if not equals or not key.strip():
                raise LauncherConfigError(
                    f"{ENV_VARS['node_selector']}: {item!r} is not key=value (e.g. nvidia.com/gpu.present=true)"
                )
            node_selector[key.strip()] = value.strip()
        return cls(**{k: v for k, v in values.items() if v}, node_selector=node_selector, tolerations=tolerations)

    def describe(self, job: PythonJob) -> str:
        namespace = self.namespace or self._template()[0].get("namespace") or "the current namespace"
        return f"kubernetes pod of {self.image} in {namespace}, {job.num_processes} x {self.gpu_resource}"

    def pod_request(self, job: PythonJob, environ: Mapping[str, str] | None = None) -> PodRequest:
        """The pod for `job`: the template, with what the job and the settings require set on it."""
        environ = os.environ if environ is None else environ
        meta, spec = self._template()
        data_dir = Path(job.data_dir)
        if not data_dir.is_absolute():
            raise LauncherConfigError(f"MEDIMIND_DATA_DIR must be an absolute path for a pod, got {data_dir}")

        spec["containers"] = spec.get("containers") or [{}]
        main = spec["containers"][0]
        main.setdefault("name", DEFAULT_CONTAINER)
        if main.get("args"):
            raise LauncherConfigError(
                f"{self._source()}: the first container sets args {main['args']}; the launcher sets its command "
                "(the job's), remove args"
            )
        main["image"] = self.image
        main["command"] = job.command(self.python)

        # GPUs: extended resources are requested through limits (the request defaults to the limit).
        gpus = {self.gpu_resource: str(job.num_processes)}
        resources = main["resources"] = main.get("resources") or {}
        resources["limits"] = {**(resources.get("limits") or {}), **gpus}
        if self.gpu_resource in (resources.get("requests") or {}):
            resources["requests"] = {**resources["requests"], **gpus}

        # The claim replaces a template volume of the same name; any other duplicate name is the API server's to refuse.
        volumes = [
            v for v in spec.get("volumes") or [] if not (self.data_volume_claim and v.get("name") == DATA_VOLUME)
        ]
        if self.data_volume_claim:
            volumes.append({"name": DATA_VOLUME, "persistent_volume_claim": {"claim_name": self.data_volume_claim}})
        if not any(v.get("name") == DATA_VOLUME for v in volumes):
            raise LauncherConfigError(
                f"the pod has no data volume: set {ENV_VARS['data_volume_claim']} (a ReadWriteMany claim that "
                f"holds MEDIMIND_DATA_DIR={data_dir}) or give {self._source()} a volume named {DATA_VOLUME!r}"
            )
        mounts = list(main.get("volume_mounts") or [])
        for mount in mounts:
            if mount.get("name") == DATA_VOLUME and mount.get("mount_path") != str(data_dir):
                raise LauncherConfigError(
                    f"{self._source()} mounts {DATA_VOLUME!r} at {mount.get('mount_path')}, but MEDIMIND_DATA_DIR "
                    f"is {data_dir}: both sides must see the same paths; remove that volumeMount"
                )
        if not any(m.get("name") == DATA_VOLUME for m in mounts):
            mounts.append({"name": DATA_VOLUME, "mount_path": str(data_dir)})
        # NCCL and the data loaders of several processes share memory through /dev/shm, 64 MiB in a container.
        if job.num_processes > 1 and not any(m.get("mount_path") == "/dev/shm" for m in mounts):
            volumes.append({"name": SHM_VOLUME, "empty_dir": {"medium": "Memory"}})
            mounts.append({"name": SHM_VOLUME, "mount_path": "/dev/shm"})
        spec["volumes"], main["volume_mounts"] = volumes, mounts

        if self.node_selector:
            spec["node_selector"] = {**(spec.get("node_selector") or {}), **self.node_selector}
        if self.tolerations:
            added = [parse_toleration(t, setting=ENV_VARS["tolerations"]) for t in self.tolerations]
            spec["tolerations"] = [*(spec.get("tolerations") or []), *added]

        visible = [data_dir] + [Path(m["mount_path"]) for m in mounts if m.get("mount_path")]
        for what, path in job.inputs.items():
            if not any(Path(path).is_relative_to(root) for root in visible):
                raise LauncherConfigError(
                    f"{job.name}: the {what} ({path}) is not visible in the pod, which mounts only "
                    f"{', '.join(str(r) for r in visible)}; keep it under MEDIMIND_DATA_DIR (for a hub model: "
                    f"HF_HUB_CACHE={data_dir}/hf-cache, then materialize base_model again) or mount it in "
                    f"{self._source()} at the same path"
                )

        pod_meta = {key: value for key, value in meta.items() if key not in ("name", "namespace")}
        pod_meta["labels"] = {**(meta.get("labels") or {}), "medimind/job": job.name}
        pod_meta["labels"]["app.kubernetes.io/component"] = "medimind-" + job.name.replace("_", "-")
        passed = {name: environ[name] for name in self.env_passthrough if name in environ}
        env = {"MEDIMIND_DATA_DIR": str(data_dir), **passed, **self.env}
        return PodRequest(self.namespace or meta.get("namespace"), env, base_pod_meta=pod_meta, base_pod_spec=spec)

    def preview_pod(
        self, job: PythonJob, pod_name: str = "medimind-preview", bootstrap_env: Mapping[str, str] | None = None
    ) -> V1Pod:
        """The pod `run` would submit for `job`, built by dagster-k8s' own `build_pod_body` (no cluster needed).

        `bootstrap_env` stands for the Pipes variables a session adds. Raises LauncherConfigError if the result is
        not a valid `V1Pod` (unknown keys, wrong types, missing required fields).
        """
        from dagster_k8s.pipes import build_pod_body

        request = self.pod_request(job)
        try:
            return build_pod_body(
                pod_name=pod_name,
                image=None,
                command=None,
                env_vars={**(bootstrap_env or {}), **request.env},
                base_pod_meta=request.base_pod_meta,
                base_pod_spec=request.base_pod_spec,
            )
        except Exception as error:
            raise LauncherConfigError(f"the pod built from {self._source()} is not a valid V1Pod: {error}") from error

    def validate(self, data_dir: Path) -> None:
        """Build a one-GPU training pod now, so a bad template or setting fails when the definitions load."""
        self.preview_pod(PythonJob("medimind_assets.training.train_lora", {}, data_dir=Path(data_dir)))

    def _launch(self, context: dg.AssetExecutionContext, job: PythonJob) -> PipesClientCompletedInvocation:
        from dagster_k8s import PipesK8sClient
        from kubernetes.config import ConfigException
        from urllib3.exceptions import HTTPError

        request = self.pod_request(job)
        client = PipesK8sClient(
            load_incluster_config=self.load_incluster_config,
            kubeconfig_file=self.kubeconfig_file,
            kube_context=self.kube_context,
            poll_interval=self.poll_interval,
        )
        try:
            return client.run(
                context=context,
                extras=dict(job.extras),
                **asdict(request),
                pod_wait_timeout=self.pod_wait_timeout,
                delete_pod_on_completion=self.delete_pod_on_completion,
            )
        except (ConfigException, HTTPError) as exc:  # no usable config, or no cluster at its address
            raise dg.Failure(
                description=f"{job.name} not started: the Kubernetes cluster cannot be reached ({first_line(exc)}); "
                "check the kubeconfig (or the in-cluster service account) and MEDIMIND_K8S_NAMESPACE"
            ) from None

    def _source(self) -> str:
        return f"the pod template {self.pod_template}" if self.pod_template else "the pod template"

    def _template(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(metadata, spec) of the pod template in snake_case (what dagster-k8s builds on), validated."""
        if not self.pod_template:
            return {}, {}
        import kubernetes.client
        import yaml
        from dagster_k8s.models import k8s_snake_case_dict

        setting = f"{ENV_VARS['pod_template']}={self.pod_template}"
        path = Path(self.pod_template).expanduser()
        if not path.is_file():
            raise LauncherConfigError(f"{setting}: no such file")
        try:
            manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise LauncherConfigError(f"{setting}: not YAML ({error})") from error
        if not isinstance(manifest, dict) or manifest.get("kind") != "Pod":
            raise LauncherConfigError(f"{setting}: expected a Pod manifest (kind: Pod)")
        try:
            meta = k8s_snake_case_dict(kubernetes.client.V1ObjectMeta, manifest.get("metadata") or {})
            spec = k8s_snake_case_dict(kubernetes.client.V1PodSpec, manifest.get("spec") or {})
        except Exception as error:
            raise LauncherConfigError(f"{setting}: not a valid Pod manifest ({error})") from error
        return dict(meta), dict(spec)  # fresh from the file on every call: the caller may change them


def parse_toleration(text: str, setting: str = "tolerations") -> dict[str, str]:
    """A taint in kubectl's syntax -> the toleration that matches it (snake_case V1Toleration keys).

    `key=value:Effect` (operator Equal), `key:Effect` or `key` (operator Exists; no effect: every effect).
    """
    body, colon, effect = text.strip().rpartition(":") if ":" in text else (text.strip(), "", "")
    if colon and effect not in TAINT_EFFECTS:
        raise LauncherConfigError(
            f"{setting}: {text!r} has effect {effect!r}; allowed effects: {', '.join(TAINT_EFFECTS)}"
        )
    key, equals, value = body.partition("=")
    if not key:
        raise LauncherConfigError(f"{setting}: {text!r} has no key (expected key=value:Effect, key:Effect or key)")
    toleration = {"key": key, "operator": "Equal" if equals else "Exists", "value": value if equals else None}
    return {name: v for name, v in {**toleration, "effect": effect or None}.items() if v is not None}
