"""A stand-in for the Kubernetes core API that runs a pod's first container as a local process.

It receives the real `V1Pod` that dagster-k8s' `PipesK8sClient.run` submits, checks that it survives the trip
to JSON and back, runs its command with its environment (the "node" sees the same paths: the data volume is
the test's own directory), reports the container as running then terminated, and serves its output as
timestamped pod logs, which is how Pipes messages reach Dagster from a pod. Only the calls PipesK8sClient makes
are implemented.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import kubernetes.client as k8s
from dagster_k8s.models import k8s_model_from_dict, k8s_snake_case_dict


@dataclass
class FakePod:
    namespace: str
    manifest: dict  # the JSON the API client would have sent
    process: subprocess.Popen
    lines: list[bytes] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    deleted: bool = False


class LogResponse:
    """What `read_namespaced_pod_log(..., _preload_content=False)` returns: iterable chunks, `.stream()`, `.data`."""

    def __init__(self, pod: FakePod, follow: bool, tail_lines: int | None) -> None:
        self.pod, self.follow, self.tail_lines = pod, follow, tail_lines

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        while True:
            finished = self.pod.done.is_set()
            while sent < len(self.pod.lines):
                yield self.pod.lines[sent]
                sent += 1
            if finished or not self.follow:
                return
            time.sleep(0.05)

    def stream(self) -> Iterator[bytes]:
        return iter(self)

    @property
    def data(self) -> bytes:
        lines = self.pod.lines[-self.tail_lines :] if self.tail_lines else self.pod.lines
        return b"".join(line.split(b" ", 1)[1] for line in lines)


class FakeCoreApi:
    def __init__(self) -> None:
        self.pods: dict[str, FakePod] = {}
        self._last_stamp = datetime.datetime.now(datetime.timezone.utc)
        self._stamp_lock = threading.Lock()

    # --- the calls PipesK8sClient and DagsterKubernetesClient make -------------------------------------------
    def create_namespaced_pod(self, namespace: str, body: k8s.V1Pod) -> k8s.V1Pod:
        manifest = k8s.ApiClient().sanitize_for_serialization(body)
        # The API server would reject what does not parse back into the same pod.
        assert k8s_model_from_dict(k8s.V1Pod, k8s_snake_case_dict(k8s.V1Pod, manifest)) == body
        container = body.spec.containers[0]
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # `python` = ours
            **{key: os.environ[key] for key in ("PYTHONPATH", "HOME") if key in os.environ},
            **{var.name: var.value for var in container.env or []},
        }
        process = subprocess.Popen(container.command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        pod = FakePod(namespace=namespace, manifest=manifest, process=process)
        self.pods[body.metadata.name] = pod
        threading.Thread(target=self._collect, args=(pod,), daemon=True).start()
        return body

    def list_namespaced_pod(self, namespace: str, field_selector: str, **_) -> k8s.V1PodList:
        name = field_selector.removeprefix("metadata.name=")
        pod = self.pods.get(name)
        if pod is None or pod.deleted:
            return k8s.V1PodList(items=[])
        container = pod.manifest["spec"]["containers"][0]
        if pod.done.is_set():
            state = k8s.V1ContainerState(terminated=k8s.V1ContainerStateTerminated(exit_code=pod.process.returncode))
        else:
            state = k8s.V1ContainerState(running=k8s.V1ContainerStateRunning())
        status = k8s.V1ContainerStatus(
            name=container["name"],
            image=container["image"],
            image_id="sha256:fake",
            ready=not pod.done.is_set(),
            restart_count=0,
            state=state,
        )
        metadata = k8s.V1ObjectMeta(name=name, namespace=pod.namespace)
        return k8s.V1PodList(items=[k8s.V1Pod(metadata=metadata, status=k8s.V1PodStatus(container_statuses=[status]))])

    def read_namespaced_pod_log(self, name: str, namespace: str, **kwargs) -> LogResponse:
        return LogResponse(self.pods[name], follow=bool(kwargs.get("follow")), tail_lines=kwargs.get("tail_lines"))

    def delete_namespaced_pod(self, name: str, namespace: str, **_) -> None:
        pod = self.pods[name]
        if pod.process.poll() is None:
            pod.process.kill()
        pod.deleted = True

    # --- the "node" -----------------------------------------------------------------------------------------
    def _collect(self, pod: FakePod) -> None:
        assert pod.process.stdout is not None
        for line in pod.process.stdout:
            pod.lines.append(self._stamp() + b" " + line)
        pod.process.wait()
        pod.done.set()

    def _stamp(self) -> bytes:
        """Strictly increasing RFC 3339 timestamps, as the kubelet writes them (equal ones would merge lines)."""
        with self._stamp_lock:
            now = max(
                datetime.datetime.now(datetime.timezone.utc), self._last_stamp + datetime.timedelta(microseconds=1)
            )
            self._last_stamp = now
        return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: fake, user: {token: fake}}]
contexts: [{name: fake, context: {cluster: fake, user: fake, namespace: medimind}}]
current-context: fake
"""
