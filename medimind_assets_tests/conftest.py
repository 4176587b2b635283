"""Shared fixtures: the real raw data beside the project, our sample, and scratch copies of either; the synthetic
MEDIQA world with its tiny-phi model and adapters (`model_world`) that evaluation, merging and serving tests share."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from medimind_assets_tests.model_world import data_dir, world  # noqa: F401  (fixtures, registered here)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The real MEDIQA 2019 Task 3 and MedQuAD files, laid out as upstream (`mediqa2019_qa/`, `medquad/`): beside the
# project by default, anywhere with MEDIMIND_TEST_RAW_DIR. Tests that need them skip, saying so, where they are
# absent, unless MEDIMIND_REQUIRE_TEST_CORPUS=1 (CI, which has them) makes that an error.
TEST_RAW_DIR_ENV = "MEDIMIND_TEST_RAW_DIR"
REQUIRE_CORPUS_ENV = "MEDIMIND_REQUIRE_TEST_CORPUS"
SHARED_DATA = Path(os.environ.get(TEST_RAW_DIR_ENV) or PROJECT_ROOT / ".." / "shared" / "data").resolve()
SAMPLE_DATA = PROJECT_ROOT / "data" / "sample"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real raw corpus (see SHARED_DATA)."""
    if not (SHARED_DATA / "mediqa2019_qa").is_dir() or not (SHARED_DATA / "medquad").is_dir():
        reason = (
            f"the real MEDIQA/MedQuAD corpus is not at {SHARED_DATA}: set {TEST_RAW_DIR_ENV} to a folder holding "
            "mediqa2019_qa/ and medquad/ as upstream lays them out"
        )
        if os.environ.get(REQUIRE_CORPUS_ENV) == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_data() -> Path:
    assert (SAMPLE_DATA / "mediqa2019_qa").is_dir(), f"our sample is expected at {SAMPLE_DATA}"
    return SAMPLE_DATA


@pytest.fixture
def sample_copy(tmp_path: Path, sample_data: Path) -> Path:
    """A writable copy of our sample, for tests that break a file."""
    raw = tmp_path / "raw"
    shutil.copytree(sample_data, raw)
    return raw


K8S_TEST_IMAGE = "registry.example.com/medimind:test"


@pytest.fixture
def fake_cluster(monkeypatch):
    """dagster-k8s talks to a FakeCoreApi (resources/fake_kubelet.py): pods run as local processes."""
    import time

    from dagster_k8s.client import DagsterKubernetesClient

    from medimind_assets_tests.resources.fake_kubelet import FakeCoreApi

    core_api = FakeCoreApi()
    client = DagsterKubernetesClient(
        batch_api=None, core_api=core_api, logger=lambda *_: None, sleeper=time.sleep, timer=time.time
    )
    monkeypatch.setattr(DagsterKubernetesClient, "production_client", staticmethod(lambda *_, **__: client))
    return core_api


@pytest.fixture
def k8s_launcher(tmp_path: Path):
    """The `kubernetes` launcher on the shipped pod template, configured for the fake cluster."""
    from medimind_assets.resources import KubernetesLauncher
    from medimind_assets_tests.resources.fake_kubelet import KUBECONFIG

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    return KubernetesLauncher(
        image=K8S_TEST_IMAGE,
        namespace="medimind",
        pod_template=str(PROJECT_ROOT / "deploy" / "k8s" / "training-pod.yaml"),
        kubeconfig_file=str(kubeconfig),
        poll_interval=0.2,
    )
